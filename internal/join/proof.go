package join

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Names of the proof.
const (
	// HeaderNonce carries the nonce kelp handed out; it must be signed.
	HeaderNonce = "X-Kelp-Nonce"
	// HeaderRequestHash carries RequestHash of the join request; it must
	// be signed.
	HeaderRequestHash = "X-Kelp-Request-Hash"
	// GetCallerIdentityBody is the one body kelp forwards to STS.
	GetCallerIdentityBody = "Action=GetCallerIdentity&Version=2011-06-15"
	// DefaultFreshness is how far the signing time (X-Amz-Date) may be
	// from kelp's clock.
	DefaultFreshness = 5 * time.Minute
)

// Request is what an instance asks for: the node name its kubelet will
// register. Its JSON, exactly as sent, is hashed into the signed
// HeaderRequestHash, so it cannot be changed without a new signature.
type Request struct {
	NodeName string `json:"nodeName"`
}

// Validate returns an error naming what is wrong with r.
func (r Request) Validate() error {
	if r.NodeName == "" {
		return fmt.Errorf("nodeName: must not be empty")
	}
	if msgs := validation.IsDNS1123Subdomain(r.NodeName); len(msgs) > 0 {
		return fmt.Errorf("nodeName %q: must be a DNS-1123 subdomain: %v", r.NodeName, msgs)
	}
	return nil
}

// Proof is the body of a join: the join request and the signed
// sts:GetCallerIdentity request that vouches for it.
type Proof struct {
	// Request is the JSON of a [Request], byte for byte as hashed.
	Request []byte `json:"request"`
	// STS is the signed request, which kelp forwards to its own STS
	// endpoint.
	STS SignedRequest `json:"sts"`
}

// SignedRequest is a SigV4-signed HTTP request, as built by the client.
// Header holds every signed header but Host (the URL's host) and
// Content-Length (the body's), and Authorization.
type SignedRequest struct {
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
}

// RequestHash returns the lower-case hex SHA-256 of a join request's
// bytes, the value of HeaderRequestHash.
func RequestHash(request []byte) string {
	sum := sha256.Sum256(request)
	return hex.EncodeToString(sum[:])
}

// Answer is what kelp returns to an accepted join.
type Answer struct {
	// Token is the bootstrap token ("<id>.<secret>") bound to the
	// instance, valid until Expires.
	Token      string    `json:"token"`
	Expires    time.Time `json:"expires"`
	InstanceID string    `json:"instanceID"`
	NodeName   string    `json:"nodeName"`
}

// ErrorBody is the JSON of a refused request.
type ErrorBody struct {
	Reason  Reason `json:"reason"`
	Message string `json:"message"`
}

// NonceBody is the JSON answer to a nonce request.
type NonceBody struct {
	Nonce   string    `json:"nonce"`
	Expires time.Time `json:"expires,omitzero"`
}

// EncodeRequest returns the JSON of r.
func EncodeRequest(r Request) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("encode join request: %w", err)
	}
	return json.Marshal(r)
}
