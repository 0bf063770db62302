package join

import "github.com/prometheus/client_golang/prometheus"

// Metrics count the join endpoint's decisions.
type Metrics struct {
	// Decisions counts joins by result (accepted, refused) and reason
	// ("" for an accepted one).
	Decisions *prometheus.CounterVec
	// Nonces counts the nonces handed out.
	Nonces prometheus.Counter
}

// NewMetrics registers the join endpoint's metrics with reg (none when
// reg is nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_join_decisions_total",
			Help: "Identity joins by result (accepted, refused) and reason.",
		}, []string{"result", "reason"}),
		Nonces: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kelp_join_nonces_total",
			Help: "Nonces handed out by the join endpoint.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Decisions, m.Nonces)
	}
	return m
}
