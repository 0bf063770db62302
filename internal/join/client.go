package join

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignFunc signs a POST of GetCallerIdentityBody to stsURL whose headers
// are header (the nonce, the request hash and the content type) and
// returns every header of the signed request, Authorization included.
// internal/cloud/aws.SignCallerIdentity is one, given the instance
// role's credentials.
type SignFunc func(ctx context.Context, stsURL string, header http.Header) (http.Header, error)

// Client is the instance's side of a join.
type Client struct {
	// Endpoint is kelp's join endpoint, https://<host>[:port].
	Endpoint string
	// HTTP talks to Endpoint; it must trust the endpoint's CA.
	HTTP *http.Client
	// STSEndpoint is the STS endpoint kelp forwards to (Policy.STSEndpoint).
	STSEndpoint string
	Sign        SignFunc
}

// Join asks kelp for a nonce, signs a proof of req with it and sends it.
// A refusal is a *Refusal with kelp's reason.
func (c *Client) Join(ctx context.Context, req Request) (Answer, error) {
	nonce, err := c.Nonce(ctx)
	if err != nil {
		return Answer{}, err
	}
	p, err := c.Prove(ctx, req, nonce)
	if err != nil {
		return Answer{}, err
	}
	return c.Send(ctx, p)
}

// Nonce asks kelp for a nonce.
func (c *Client) Nonce(ctx context.Context) (string, error) {
	var n NonceBody
	if err := c.do(ctx, http.MethodGet, PathNonce, nil, &n); err != nil {
		return "", fmt.Errorf("get nonce: %w", err)
	}
	return n.Nonce, nil
}

// Send sends a proof; a refusal is a *Refusal with kelp's reason.
func (c *Client) Send(ctx context.Context, p Proof) (Answer, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return Answer{}, fmt.Errorf("encode proof: %w", err)
	}
	var ans Answer
	if err := c.do(ctx, http.MethodPost, PathJoin, body, &ans); err != nil {
		return Answer{}, fmt.Errorf("join: %w", err)
	}
	return ans, nil
}

// Prove returns the proof of req under nonce.
func (c *Client) Prove(ctx context.Context, req Request, nonce string) (Proof, error) {
	raw, err := EncodeRequest(req)
	if err != nil {
		return Proof{}, err
	}
	stsURL := strings.TrimSuffix(c.STSEndpoint, "/") + "/"
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	h.Set(HeaderNonce, nonce)
	h.Set(HeaderRequestHash, RequestHash(raw))
	signed, err := c.Sign(ctx, stsURL, h)
	if err != nil {
		return Proof{}, fmt.Errorf("sign GetCallerIdentity: %w", err)
	}
	return Proof{Request: raw, STS: SignedRequest{Method: http.MethodPost, URL: stsURL, Header: signed, Body: GetCallerIdentityBody}}, nil
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxProofBytes))
	if err != nil {
		return fmt.Errorf("read answer of %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"))
		var e ErrorBody
		if json.Unmarshal(data, &e) == nil && e.Reason != "" {
			return &Refusal{Reason: e.Reason, Message: e.Message, RetryAfter: retryAfter}
		}
		return &StatusError{Method: method, Path: path, Status: resp.StatusCode, RetryAfter: retryAfter, Body: fmt.Sprintf("%.200s", data)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer of %s: %w", path, err)
	}
	return nil
}

// StatusError is an answer of the join endpoint (or whatever stands in
// front of it) that is neither a success nor a refusal kelp explained.
type StatusError struct {
	Method, Path string
	Status       int
	// RetryAfter is the answer's Retry-After, 0 when absent.
	RetryAfter time.Duration
	Body       string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Body)
}

// parseRetryAfter reads a Retry-After header in seconds; 0 when absent or
// not a number of seconds (an HTTP date is not worth honouring here).
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
