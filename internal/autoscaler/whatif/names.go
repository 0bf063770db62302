package whatif

import "github.com/kelp-dev/kelp/internal/cloud"

// names are the names people know node groups by, by group ID: the pool
// (the kelp.dev/pool tag, as `kelp pool list` shows it), or the group ID
// for a group without a pool or whose pool another group shares.
type names map[string]string

// poolNames names groups by their pools.
func poolNames(groups []cloud.NodeGroup) names {
	count := map[string]int{}
	for _, g := range groups {
		count[g.Pool]++
	}
	n := names{}
	for _, g := range groups {
		n[g.ID] = g.ID
		if g.Pool != "" && count[g.Pool] == 1 {
			n[g.ID] = g.Pool
		}
	}
	return n
}

// of is the name of group id (id itself when it is not one of the groups).
func (n names) of(id string) string {
	if v := n[id]; v != "" {
		return v
	}
	return id
}

// keyed returns m keyed by name instead of group ID (an empty key, a
// reason for no group in particular, stays).
func (n names) keyed(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for id, v := range m {
		if id == "" {
			out[id] = v
			continue
		}
		out[n.of(id)] = v
	}
	return out
}
