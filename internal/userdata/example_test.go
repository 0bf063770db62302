package userdata_test

import (
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/userdata"
)

// A caller renders a pool's user-data, and the local cloud decodes it to
// boot an instance.
func Example() {
	kubeconfig, err := os.ReadFile("testdata/bootstrap-kubeconfig.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := userdata.Render(userdata.Input{
		Profile:             userdata.ProfileLocal,
		ClusterName:         "demo",
		Pool:                "workers",
		BootstrapKubeconfig: kubeconfig,
		Labels:              map[string]string{"example.com/tier": "batch"},
		Taints:              []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := userdata.Decode(r.Data)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range c.WriteFiles {
		fmt.Println(f.Permissions, f.Path)
	}
	fmt.Println(c.RunCmd[0].Argv, r.Gzipped)
	// Output:
	// 0600 /etc/kelp/bootstrap-kubeconfig
	// 0644 /etc/kelp/node.yaml
	// [kelp node --root /] false
}
