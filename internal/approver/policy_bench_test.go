package approver

import "testing"

// BenchmarkDecide measures one decision per kind; the request is parsed and
// its signature verified on every call, as the controller does.
func BenchmarkDecide(b *testing.B) {
	cases := []struct {
		name  string
		facts Facts
	}{
		{"new-node", newNodeFacts(b, reqSpec{})},
		{"new-node-rsa2048", newNodeFacts(b, reqSpec{key: "rsa2048"})},
		{"renewal", renewalFacts(b, reqSpec{})},
		{"serving", servingFacts(b, servingSpec())},
		{"malformed", newNodeFactsFor(b, []byte("not a request"))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v := Decide(c.facts); v.Action == "" {
					b.Fatal("no action")
				}
			}
		})
	}
}
