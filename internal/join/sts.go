package join

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxSTSResponse bounds the STS answer read.
const maxSTSResponse = 64 << 10

// STS forwards checked proofs to the one STS endpoint of the policy.
type STS struct {
	// Endpoint is Policy.STSEndpoint.
	Endpoint string
	// Client sends the request; http.DefaultClient when nil. Its
	// transport must verify the endpoint's certificate.
	Client *http.Client
}

// CallerIdentity sends GetCallerIdentityBody with header (the proof's
// signed headers and Authorization) to the endpoint, never to a host
// named by the proof, and returns the caller's ARN. STS refusing the
// signature (a 4xx answer) is a *Refusal with ReasonTampered; a failure
// to reach STS or a 5xx answer is ReasonUnavailable.
func (s STS) CallerIdentity(ctx context.Context, header http.Header) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.Endpoint, "/")+"/", bytes.NewBufferString(GetCallerIdentityBody))
	if err != nil {
		return "", fmt.Errorf("build sts request: %w", err)
	}
	req.Header = header.Clone()
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", unavailable(err, "call sts %s", s.Endpoint)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSTSResponse))
	if err != nil {
		return "", unavailable(err, "read sts answer")
	}
	switch {
	case resp.StatusCode >= 500:
		return "", unavailable(fmt.Errorf("status %s", resp.Status), "call sts %s", s.Endpoint)
	case resp.StatusCode != http.StatusOK:
		return "", refuse(ReasonTampered, "sts refused the signed request: %s: %.300s", resp.Status, body)
	}
	arn, err := ParseCallerIdentity(body)
	if err != nil {
		return "", unavailable(err, "sts %s", s.Endpoint)
	}
	return arn, nil
}
