package join

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"golang.org/x/time/rate"
)

// Paths of the join endpoint.
const (
	PathNonce = "/v1/nonce"
	PathJoin  = "/v1/join"
)

// maxProofBytes bounds a proof's body.
const maxProofBytes = 64 << 10

// Default rate of the join endpoint: requests per second and burst, for
// both routes together (a join is two requests). Each proof costs an STS
// call, a DescribeInstances and a GetInstanceProfile, from API budgets
// the autoscaler and approver share: 10 joins a second, 50 at once, fits
// them; --join-rate-limit and --join-burst change it.
const (
	DefaultRate  = 20
	DefaultBurst = 100
)

// Handler serves the join endpoint: GET PathNonce answers a [NonceBody];
// POST PathJoin takes a [Proof] and answers an [Answer], or an [ErrorBody]
// with the refusal's reason (400 for a malformed proof, 429 when rate
// limited, 503 when a dependency failed, 403 otherwise). Requests beyond
// the limiter's rate are refused before any work.
type Handler struct {
	Server  *Server
	Limiter *rate.Limiter
}

// NewHandler returns a Handler limited to perSecond requests a second
// with burst; DefaultRate and DefaultBurst where they are 0.
func NewHandler(s *Server, perSecond float64, burst int) *Handler {
	if perSecond == 0 {
		perSecond = DefaultRate
	}
	if burst == 0 {
		burst = DefaultBurst
	}
	return &Handler{Server: s, Limiter: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Limiter != nil && !h.Limiter.Allow() {
		h.Server.deps.Metrics.Decisions.WithLabelValues("refused", string(ReasonRateLimited)).Inc()
		writeError(w, refuse(ReasonRateLimited, "too many join requests; retry later"))
		return
	}
	switch {
	case r.URL.Path == PathNonce && r.Method == http.MethodGet:
		n, err := h.Server.Nonce()
		if err != nil {
			writeError(w, unavailable(err, "issue nonce"))
			return
		}
		writeJSON(w, http.StatusOK, n)
	case r.URL.Path == PathJoin && r.Method == http.MethodPost:
		h.join(w, r)
	case r.URL.Path == PathNonce || r.URL.Path == PathJoin:
		w.Header().Set("Allow", map[string]string{PathNonce: http.MethodGet, PathJoin: http.MethodPost}[r.URL.Path])
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) join(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxProofBytes))
	if err != nil {
		writeError(w, refuse(ReasonMalformed, "read proof: %v", err))
		return
	}
	var p Proof
	if err := json.Unmarshal(body, &p); err != nil {
		h.Server.deps.Metrics.Decisions.WithLabelValues("refused", string(ReasonMalformed)).Inc()
		writeError(w, refuse(ReasonMalformed, "proof: %v", err))
		return
	}
	ans, err := h.Server.Join(r.Context(), p)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

func writeError(w http.ResponseWriter, err error) {
	var ref *Refusal
	if !errors.As(err, &ref) {
		ref = unavailable(err, "join")
	}
	status := http.StatusForbidden
	switch ref.Reason {
	case ReasonMalformed:
		status = http.StatusBadRequest
	case ReasonRateLimited:
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", "1")
	case ReasonUnavailable:
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, ErrorBody{Reason: ref.Reason, Message: ref.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
