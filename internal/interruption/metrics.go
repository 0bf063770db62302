package interruption

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of a message (or, once parsed, of each of its Notices) in
// Metrics.Messages.
const (
	// OutcomeHandled: the handler took the Notice; the message is deleted.
	OutcomeHandled = "handled"
	// OutcomeFailed: the handler failed; the message stays for redelivery.
	OutcomeFailed = "failed"
	// OutcomeInvalid: the message is no event Parse can read; deleted.
	OutcomeInvalid = "invalid"
	// OutcomeIgnored: an event kelp does not act on (ErrUnsupported); deleted.
	OutcomeIgnored = "ignored"
)

// kindUnparsed is the kind label of a message that yields no Notice.
const kindUnparsed = "none"

// Metrics are the interruption queue consumer's Prometheus metrics.
type Metrics struct {
	// Messages counts Notices by kind (warning, lifecycle-action,
	// state-change) and outcome (handled, failed), and messages that yield
	// none by kind "none" and outcome (invalid, ignored).
	Messages *prometheus.CounterVec
	// ReceiveErrors counts failed ReceiveMessage and DeleteMessage calls.
	ReceiveErrors *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_interruption_messages_total",
			Help: "Interruption queue messages: Notices by kind (warning, lifecycle-action, state-change) and outcome (handled, failed); messages yielding none by kind none and outcome (invalid, ignored).",
		}, []string{"kind", "outcome"}),
		ReceiveErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_interruption_queue_errors_total",
			Help: "Failed calls to the interruption queue, by operation (ReceiveMessage, DeleteMessage).",
		}, []string{"operation"}),
	}
	reg.MustRegister(m.Messages, m.ReceiveErrors)
	return m
}

func (m *Metrics) count(kind, outcome string) {
	if m != nil {
		m.Messages.WithLabelValues(kind, outcome).Inc()
	}
}

func (m *Metrics) callFailed(op string) {
	if m != nil {
		m.ReceiveErrors.WithLabelValues(op).Inc()
	}
}
