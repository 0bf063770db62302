package pool

import (
	"fmt"
	"strings"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// SizeWarning says, when s names instance types of different sizes, what
// that costs: the group, not kelp, picks which type a new instance gets,
// so kelp plans the pool as its smallest type. "" when the types are of
// one size, or are unknown (Validate reports those).
func (s Spec) SizeWarning() string {
	if len(s.InstanceTypes) < 2 {
		return ""
	}
	var sizes []string
	differ := false
	var first catalog.InstanceType
	for i, name := range s.InstanceTypes {
		it, err := catalog.Lookup(name)
		if err != nil {
			return ""
		}
		if i == 0 {
			first = it
		} else if it.VCPUs != first.VCPUs || it.MemoryMiB != first.MemoryMiB || it.GPU.Count != first.GPU.Count {
			differ = true
		}
		sizes = append(sizes, fmt.Sprintf("%s %d vCPU %g GiB", name, it.VCPUs, float64(it.MemoryMiB)/1024))
	}
	if !differ {
		return ""
	}
	return fmt.Sprintf("pool %s: its instance types differ in size (%s); the Auto Scaling group, not kelp, picks which one launches, "+
		"so kelp plans the pool as its smallest and a pod only a larger type fits will not grow it: put types of one size in a pool "+
		"(docs/autoscaler.md)", s.Name, strings.Join(sizes, ", "))
}
