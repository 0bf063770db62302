package nodeagent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestBootstrapAndRegister(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	id := newIdentity()
	id.InstanceType, id.Lifecycle, id.AvailabilityZone = "m6g.xlarge", LifecycleSpot, "us-east-1c"
	taints := []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
	n := newTestNode(t, env, nodeOpts{
		id: &id, pool: "batch", taints: taints,
		labels: map[string]string{"example.com/tier": "batch", "node.kubernetes.io/lifecycle": "spot"},
	})
	n.start(t)

	csr := waitCSR(t, env, n.bootstrapUser(), certificatesv1.KubeAPIServerClientKubeletSignerName)
	checkClientCSR(t, csr, id.PrivateDNSName)
	if !slices.Contains(csr.Spec.Groups, "system:bootstrappers:kelp:batch") {
		t.Errorf("CSR groups = %v, want the pool group", csr.Spec.Groups)
	}
	// Nothing approves it but us: it stays pending and the node waits.
	testenv.HoldsFor(t, 2*time.Second, "CSR pending, agent bootstrapping, no node", func(ctx context.Context) error {
		got, err := env.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil || !isPending(got) || len(got.Status.Certificate) > 0 {
			return fmt.Errorf("CSR %s no longer pending: %v %+v", csr.Name, err, got.Status)
		}
		if s := n.agent.Status(); s.Phase != PhaseBootstrapping || s.Ready {
			return fmt.Errorf("status %+v, want Bootstrapping and not ready", s)
		}
		if _, err := env.Client.CoreV1().Nodes().Get(ctx, id.PrivateDNSName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("node exists: %v", err)
		}
		return nil
	})
	approve(t, env.Client, csr)
	waitReady(t, n.agent)

	node, err := env.Client.CoreV1().Nodes().Get(context.Background(), id.PrivateDNSName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get node: %v", err)
	}
	checkRegisteredNode(t, node, id, taints)
	if l := node.Labels["example.com/tier"]; l != "batch" {
		t.Errorf("pool label example.com/tier = %q, want batch", l)
	}
	checkFiles(t, n)
}

func TestBootstrapDenied(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	n := newTestNode(t, env, nodeOpts{})
	n.start(t)
	csr := waitCSR(t, env, n.bootstrapUser(), certificatesv1.KubeAPIServerClientKubeletSignerName)
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: "NotInService", Message: "instance unknown",
	})
	if _, err := env.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(context.Background(), csr.Name, csr, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("deny: %v", err)
	}
	select {
	case err := <-n.done:
		n.stop()
		n.stop = nil
		if !errors.Is(err, ErrCertificateDenied) {
			t.Errorf("Run = %v, want ErrCertificateDenied", err)
		}
		testenv.ErrorContains(t, err, "NotInService") // the reason
	case <-time.After(30 * time.Second):
		t.Fatalf("Run still going 30s after denial: %+v", n.agent.Status())
	}
	if s := n.agent.Status(); s.Phase != PhaseStopped || s.Ready {
		t.Errorf("status after denial %+v", s)
	}
}

func checkClientCSR(t *testing.T, csr *certificatesv1.CertificateSigningRequest, node string) {
	t.Helper()
	req := parseCSR(t, csr)
	if req.Subject.CommonName != "system:node:"+node || !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("CSR subject = %v, want CN system:node:%s, O system:nodes", req.Subject, node)
	}
	if req.PublicKeyAlgorithm != x509.ECDSA || len(req.DNSNames)+len(req.IPAddresses) > 0 {
		t.Errorf("CSR key %v, SANs %v %v; want ECDSA and no SANs", req.PublicKeyAlgorithm, req.DNSNames, req.IPAddresses)
	}
	want := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	if !slices.Equal(csr.Spec.Usages, want) {
		t.Errorf("CSR usages = %v, want %v", csr.Spec.Usages, want)
	}
}

func parseCSR(t *testing.T, csr *certificatesv1.CertificateSigningRequest) *x509.CertificateRequest {
	t.Helper()
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil {
		t.Fatalf("CSR %s: request is not PEM", csr.Name)
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatalf("CSR %s: %v", csr.Name, err)
	}
	return req
}

func checkRegisteredNode(t *testing.T, node *corev1.Node, id InstanceIdentity, taints []corev1.Taint) {
	t.Helper()
	it, _ := catalog.Lookup(id.InstanceType)
	wantLabels := map[string]string{
		"kubernetes.io/hostname":           id.PrivateDNSName,
		"kubernetes.io/os":                 "linux",
		"kubernetes.io/arch":               it.Architecture.KubernetesArch(),
		"node.kubernetes.io/instance-type": id.InstanceType,
		"topology.kubernetes.io/zone":      id.AvailabilityZone,
		"topology.kubernetes.io/region":    id.Region,
		"kelp.dev/capacity-type":           id.Lifecycle,
	}
	for k, v := range wantLabels {
		if node.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, node.Labels[k], v)
		}
	}
	if want := "aws:///" + id.AvailabilityZone + "/" + id.InstanceID; node.Spec.ProviderID != want {
		t.Errorf("providerID = %q, want %q", node.Spec.ProviderID, want)
	}
	if !apiequality.Semantic.DeepEqual(node.Status.Capacity, it.Capacity()) ||
		!apiequality.Semantic.DeepEqual(node.Status.Allocatable, it.Allocatable()) {
		t.Errorf("capacity %v allocatable %v, want %v and %v", node.Status.Capacity, node.Status.Allocatable, it.Capacity(), it.Allocatable())
	}
	wantAddrs := []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: id.PrivateIP},
		{Type: corev1.NodeInternalDNS, Address: id.PrivateDNSName},
		{Type: corev1.NodeHostName, Address: id.PrivateDNSName},
	}
	if !slices.Equal(node.Status.Addresses, wantAddrs) {
		t.Errorf("addresses = %v, want %v", node.Status.Addresses, wantAddrs)
	}
	var gotTaints []corev1.Taint
	for _, tn := range node.Spec.Taints {
		gotTaints = append(gotTaints, corev1.Taint{Key: tn.Key, Value: tn.Value, Effect: tn.Effect})
	}
	for _, w := range taints {
		if !slices.Contains(gotTaints, w) {
			t.Errorf("taints = %v, want %v among them", gotTaints, w)
		}
	}
	if !nodeReady(node) {
		t.Errorf("node conditions = %v, want Ready", node.Status.Conditions)
	}
	info := node.Status.NodeInfo
	if info.KubeletVersion != KubeletVersion || info.ContainerRuntimeVersion != ContainerRuntimeVersion ||
		info.OperatingSystem != "linux" || info.Architecture != it.Architecture.KubernetesArch() {
		t.Errorf("nodeInfo = %+v", info)
	}
	if node.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("kubelet endpoint port = %d, want 10250", node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	}
}

func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// checkFiles checks the credentials the agent left on disk.
func checkFiles(t *testing.T, n *testNode) {
	t.Helper()
	st, err := os.Stat(filepath.Join(n.root, PKIDir, clientCertFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("client certificate file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(n.root, PKIDir, bootstrapKeyFile)); !os.IsNotExist(err) {
		t.Errorf("bootstrap key left behind: %v", err)
	}
	self, err := nodeClientFromDisk(t, n).CoreV1().Nodes().Get(context.Background(), n.id.PrivateDNSName, metav1.GetOptions{})
	if err != nil || self.Name != n.id.PrivateDNSName {
		t.Errorf("node kubeconfig cannot read its own node: %v", err)
	}
}

func TestLeaseRenewed(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	n := newTestNode(t, env, nodeOpts{tuning: Tuning{LeaseRenewInterval: time.Second}})
	joinNode(t, n)
	leases := env.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	name := n.id.PrivateDNSName
	first, err := leases.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get lease: %v", err)
	}
	if first.Spec.HolderIdentity == nil || *first.Spec.HolderIdentity != name ||
		first.Spec.LeaseDurationSeconds == nil || *first.Spec.LeaseDurationSeconds != 40 {
		t.Errorf("lease spec = %+v, want holder %s, duration 40", first.Spec, name)
	}
	if len(first.OwnerReferences) != 1 || first.OwnerReferences[0].Kind != "Node" || first.OwnerReferences[0].Name != name {
		t.Errorf("lease owners = %v, want the node", first.OwnerReferences)
	}
	testenv.Eventually(t, 30*time.Second, "lease renewal", func(ctx context.Context) (bool, error) {
		l, err := leases.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return l.Spec.RenewTime.After(first.Spec.RenewTime.Time), nil
	})
}

func TestPodLifecycle(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ns := env.Namespace(t)
	n := newTestNode(t, env, nodeOpts{})
	joinNode(t, n)
	ctx := context.Background()
	dep := testDeployment(ns, n.id.PrivateDNSName, 2)
	if _, err := env.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	pods := waitRunningPods(t, env, ns, 2)
	nodeRange, _ := nodePodCIDR(netip.MustParsePrefix("10.244.0.0/16"), netip.MustParseAddr(n.id.PrivateIP))
	seen := map[string]bool{}
	for _, p := range pods {
		checkRunningPod(t, &p, n.id, nodeRange)
		if seen[p.Status.PodIP] {
			t.Errorf("pod IP %s given twice", p.Status.PodIP)
		}
		seen[p.Status.PodIP] = true
	}
	testenv.Eventually(t, 10*time.Second, "status to count 2 pods", func(context.Context) (bool, error) { return n.agent.Status().Pods == 2, nil })

	victim := pods[0]
	grace := int64(2)
	if err := env.Client.CoreV1().Pods(ns).Delete(ctx, victim.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	deleted := time.Now()
	testenv.Eventually(t, 30*time.Second, "deleted pod to go away", func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return err == nil && p.UID != victim.UID, err
	})
	if waited := time.Since(deleted); waited < time.Second {
		t.Errorf("pod removed %v after deletion; the agent must wait out the 2s grace period", waited)
	}
}

// testDeployment runs replicas pods pinned to node, with an init
// container, and a short grace period.
func testDeployment(ns, node string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector:   map[string]string{corev1.LabelHostname: node},
					InitContainers: []corev1.Container{{Name: "setup", Image: "busybox:1.36"}},
					Containers:     []corev1.Container{{Name: "web", Image: "nginx:1.27"}},
				},
			},
		},
	}
}

// waitRunningPods waits until want pods in ns are Running and Ready.
func waitRunningPods(t *testing.T, env *testenv.Env, ns string, want int) []corev1.Pod {
	t.Helper()
	var running []corev1.Pod
	testenv.Eventually(t, time.Minute, strconv.Itoa(want)+" running pods", func(ctx context.Context) (bool, error) {
		list, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		running = running[:0]
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning && podReady(&p) && p.DeletionTimestamp == nil {
				running = append(running, p)
			}
		}
		return len(running) == want, nil
	})
	return running
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func checkRunningPod(t *testing.T, p *corev1.Pod, id InstanceIdentity, nodeRange netip.Prefix) {
	t.Helper()
	ip, err := netip.ParseAddr(p.Status.PodIP)
	if err != nil || !netip.MustParsePrefix("10.244.0.0/16").Contains(ip) || !nodeRange.Contains(ip) {
		t.Errorf("pod %s IP %q, want one in the node's range %s of 10.244.0.0/16", p.Name, p.Status.PodIP, nodeRange)
	}
	if p.Status.HostIP != id.PrivateIP || p.Spec.NodeName != id.PrivateDNSName {
		t.Errorf("pod %s on %s hostIP %s, want %s %s", p.Name, p.Spec.NodeName, p.Status.HostIP, id.PrivateDNSName, id.PrivateIP)
	}
	for _, typ := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled} {
		i := slices.IndexFunc(p.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == typ })
		if i < 0 || p.Status.Conditions[i].Status != corev1.ConditionTrue {
			t.Errorf("pod %s condition %s not True: %v", p.Name, typ, p.Status.Conditions)
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started || cs.ImageID == "" || cs.ContainerID != containerID(p.UID, cs.Name) {
			t.Errorf("pod %s container status %+v", p.Name, cs)
		}
	}
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			t.Errorf("pod %s init container status %+v, want completed", p.Name, cs)
		}
	}
}

func TestNodeRestriction(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	n := newTestNode(t, env, nodeOpts{})
	joinNode(t, n)
	ctx := context.Background()
	other := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "other-" + n.id.PrivateDNSName}}
	if _, err := env.Client.CoreV1().Nodes().Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create other node: %v", err)
	}
	t.Cleanup(func() {
		_ = env.Client.CoreV1().Nodes().Delete(context.Background(), other.Name, metav1.DeleteOptions{})
	})

	self := nodeClientFromDisk(t, n)
	patch := func(node, key string) error {
		body := []byte(`{"metadata":{"labels":{"` + key + `":"x"}}}`)
		_, err := self.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, body, metav1.PatchOptions{})
		return err
	}
	if err := patch(other.Name, "kelp.dev/hijack"); !apierrors.IsForbidden(err) {
		t.Errorf("node patching another node: err = %v, want Forbidden", err)
	}
	if err := self.CoreV1().Nodes().Delete(ctx, other.Name, metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node deleting another node: err = %v, want Forbidden", err)
	}
	if err := patch(n.id.PrivateDNSName, "node-role.kubernetes.io/control-plane"); !apierrors.IsForbidden(err) {
		t.Errorf("node setting a node-role label on itself: err = %v, want Forbidden", err)
	}
	if err := patch(n.id.PrivateDNSName, "kelp.dev/extra"); err != nil {
		t.Errorf("node setting a kelp.dev label on itself: %v", err)
	}
}

func TestServingCertificate(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	n := newTestNode(t, env, nodeOpts{})
	joinNode(t, n) // readiness does not wait for the serving certificate

	csr := waitCSR(t, env, n.nodeUser(), certificatesv1.KubeletServingSignerName)
	req := parseCSR(t, csr)
	wantUsages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	if !slices.Equal(csr.Spec.Usages, wantUsages) || req.Subject.CommonName != n.nodeUser() ||
		!slices.Equal(req.DNSNames, []string{n.id.PrivateDNSName}) || len(req.IPAddresses) != 1 ||
		req.IPAddresses[0].String() != n.id.PrivateIP || req.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("serving CSR usages %v subject %v DNS %v IPs %v key %v", csr.Spec.Usages, req.Subject, req.DNSNames, req.IPAddresses, req.PublicKeyAlgorithm)
	}
	if n.agent.Status().Serving {
		t.Fatal("serving before the serving CSR was approved")
	}
	approve(t, env.Client, csr)
	select {
	case <-n.agent.Serving():
	case <-time.After(time.Minute):
		t.Fatalf("not serving a minute after approval: %+v", n.agent.Status())
	}
	for _, serverName := range []string{n.id.PrivateDNSName, n.id.PrivateIP} {
		if body := getHealthz(t, env, n.id.PrivateIP, serverName); body != "ok" {
			t.Errorf("healthz (server name %s) = %q, want ok", serverName, body)
		}
	}
}

// getHealthz GETs https://<ip>:10250/healthz trusting only the cluster CA.
func getHealthz(t *testing.T, env *testenv.Env, ip, serverName string) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.Cluster.CACertPEM())
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + net.JoinHostPort(ip, "10250") + "/healthz")
	if err != nil {
		t.Fatalf("GET healthz: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET healthz: %s %s", resp.Status, body)
	}
	return string(body)
}

func TestStopLeavesNodeToGoNotReady(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	n := newTestNode(t, env, nodeOpts{})
	joinNode(t, n)
	ctx := context.Background()
	name := n.id.PrivateDNSName
	lease, err := env.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.halt(t); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if s := n.agent.Status(); s.Phase != PhaseStopped {
		t.Errorf("phase after stop = %s, want Stopped", s.Phase)
	}
	// With --node-monitor-grace-period=20s the node lifecycle controller
	// marks the node Unknown once the lease is older than that.
	testenv.Eventually(t, 90*time.Second, "node to go NotReady", func(ctx context.Context) (bool, error) {
		node, err := env.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err // the agent must not delete its node
		}
		return !nodeReady(node), nil
	})
	after, err := env.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("lease gone after stop: %v", err)
	}
	if after.Spec.RenewTime.Sub(lease.Spec.RenewTime.Time) > 15*time.Second {
		t.Errorf("lease renewed after stop: %v then %v", lease.Spec.RenewTime, after.Spec.RenewTime)
	}
}

func TestRestartReusesCertificateAndAdoptsPods(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ns := env.Namespace(t)
	n := newTestNode(t, env, nodeOpts{})
	joinNode(t, n)
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bound", Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:       n.id.PrivateDNSName,
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1.36"}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx:1.27"}},
		},
	}
	if _, err := env.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	before := waitRunningPods(t, env, ns, 1)[0]
	serial := n.agent.Status().ClientCertSerial
	if err := n.halt(t); err != nil {
		t.Fatal(err)
	}
	csrsBefore := len(clientCSRs(t, n))
	// Without the bootstrap kubeconfig only the saved certificate can work.
	if err := os.Remove(filepath.Join(n.root, "etc/kelp/bootstrap-kubeconfig")); err != nil {
		t.Fatal(err)
	}
	n.agent = n.newAgent(t, nodeOpts{})
	n.start(t)
	waitReady(t, n.agent)
	if s := n.agent.Status(); s.ClientCertSerial != serial {
		t.Errorf("restarted agent uses certificate %s, want the saved %s", s.ClientCertSerial, serial)
	}
	testenv.Eventually(t, 30*time.Second, "restarted agent to adopt the pod", func(context.Context) (bool, error) { return n.agent.Status().Pods == 1, nil })
	after, err := env.Client.CoreV1().Pods(ns).Get(ctx, "bound", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Status.PodIP != before.Status.PodIP || after.ResourceVersion != before.ResourceVersion {
		t.Errorf("adopted pod changed: IP %s→%s, resourceVersion %s→%s", before.Status.PodIP, after.Status.PodIP, before.ResourceVersion, after.ResourceVersion)
	}
	if got := len(clientCSRs(t, n)); got != csrsBefore {
		t.Errorf("restart filed %d new client CSRs, want none", got-csrsBefore)
	}
}

// clientCSRs returns n's client certificate CSRs, bootstrap and renewals.
func clientCSRs(t *testing.T, n *testNode) []certificatesv1.CertificateSigningRequest {
	var out []certificatesv1.CertificateSigningRequest
	for _, c := range listCSRs(t, n.env, n.bootstrapUser(), n.nodeUser()) {
		if c.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName {
			out = append(out, c)
		}
	}
	return out
}
