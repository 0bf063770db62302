package localcloud

import (
	"net/url"
	"sync"
)

// idempotentActions are the EC2 actions that take a ClientToken: a retry
// with the same token gets the first answer instead of doing the work again
// (the SDKs fill the token in and keep it across retries).
var idempotentActions = map[string]bool{
	"CreateLaunchTemplate":        true,
	"CreateLaunchTemplateVersion": true,
	"ModifyLaunchTemplate":        true,
}

// maxIdempotencyTokens bounds the remembered tokens; the oldest go first.
const maxIdempotencyTokens = 1000

// idempotency remembers the answers to requests that carried a ClientToken.
type idempotency struct {
	mu      sync.Mutex // held across the handler, so a retry waits for the first attempt
	answers map[string]idempotentAnswer
	order   []string
}

type idempotentAnswer struct {
	params string // the request's encoded parameters
	body   []byte // the encoded response
}

// do runs serve once per (action, token); a repeat with the same
// parameters gets the first encoded response, with different parameters
// IdempotentParameterMismatch.
func (i *idempotency) do(action string, p params, serve func() ([]byte, error)) ([]byte, error) {
	token := p.str("ClientToken")
	if token == "" || !idempotentActions[action] {
		return serve()
	}
	key := action + "\x00" + token
	enc := url.Values(p.v).Encode()
	i.mu.Lock()
	defer i.mu.Unlock()
	if prev, ok := i.answers[key]; ok {
		if prev.params != enc {
			return nil, errf("IdempotentParameterMismatch",
				"The client token %s was already used with different parameters.", token)
		}
		return prev.body, nil
	}
	body, err := serve()
	if err != nil {
		return nil, err
	}
	if i.answers == nil {
		i.answers = map[string]idempotentAnswer{}
	}
	i.answers[key] = idempotentAnswer{params: enc, body: body}
	i.order = append(i.order, key)
	if len(i.order) > maxIdempotencyTokens {
		delete(i.answers, i.order[0])
		i.order = i.order[1:]
	}
	return body, nil
}
