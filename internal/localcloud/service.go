package localcloud

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// call is one decoded request on its way to a handler.
type call struct {
	id     string // the request id
	action string
	// api is the API the request says it speaks: the Version parameter
	// (query, ec2) or the X-Amz-Target prefix (json1.0).
	api    string
	params params // the form (query, ec2)
	body   []byte // the JSON document (json1.0)
	caller Principal
	ctx    context.Context // the request's: ends when the client goes away
	host   string          // the Host the request was sent to
}

// handler serves one action. Its result is what the service's protocol
// encodes: for query a struct rendered in <ActionResult> (nil: none), for
// ec2 an ec2Response, for json1.0 a value encoding/json marshals.
type handler func(in *call) (any, error)

// service is one AWS API the endpoint serves. Adding a service is a value
// of this type, its handlers and a call to services.register.
type service struct {
	// signingName is the service of the SigV4 credential scope
	// ("autoscaling", "ec2", "sqs", "sts"): requests are routed by it.
	signingName string
	// name is the service's name as AWS spells it in messages
	// ("AmazonAutoScaling"); for json1.0 it is the X-Amz-Target prefix
	// ("AmazonSQS").
	name string
	// version is the API version (the Version parameter of the
	// form-encoded protocols).
	version string
	// namespace is the XML namespace of answers (query, ec2).
	namespace string
	proto     protocol
	actions   map[string]handler
	// global: the service is global (IAM, STS): requests signed for
	// us-east-1 are accepted beside the cloud's own region.
	global bool
	// noPermission lists the actions no policy governs
	// (sts:GetCallerIdentity): they are not authorized.
	noPermission map[string]bool
	// around, optional, wraps every action of the service (EC2: DryRun and
	// ClientToken idempotency); run calls the handler and encodes.
	around func(in *call, run func() ([]byte, error)) ([]byte, error)
}

// services is the registry the endpoint routes by.
type services struct {
	mu        sync.RWMutex
	bySigning map[string]*service
	ordered   []*service // in registration order; the first answers what names no service
}

// register adds svc; its signing name must be new.
func (s *services) register(svc *service) error {
	if svc.signingName == "" || svc.proto == nil || svc.name == "" {
		return fmt.Errorf("register service %q: signing name, name and protocol are required", svc.signingName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.bySigning[svc.signingName]; dup {
		return fmt.Errorf("register service %q: already registered", svc.signingName)
	}
	if s.bySigning == nil {
		s.bySigning = map[string]*service{}
	}
	s.bySigning[svc.signingName] = svc
	s.ordered = append(s.ordered, svc)
	return nil
}

// first is the first registered service: it answers what names none.
func (s *services) first() *service {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ordered[0]
}

// signingNames lists the registered signing names, in registration order.
func (s *services) signingNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.ordered))
	for _, svc := range s.ordered {
		names = append(names, svc.signingName)
	}
	return names
}

// route picks the service of a request: the one its SigV4 credential scope
// names; unsigned (or naming no registered service), the json1.0 service
// its X-Amz-Target names, else the form-encoded service whose version its
// Version parameter names, else the first registered.
func (s *services) route(r *http.Request, body []byte) *service {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if auth, err := parseAuthorization(r.Header.Get("Authorization")); err == nil {
		if svc, ok := s.bySigning[auth.Service]; ok {
			return svc
		}
	}
	if target := r.Header.Get(targetHeader); target != "" {
		prefix, _, _ := strings.Cut(target, ".")
		for _, svc := range s.ordered {
			if _, ok := svc.proto.(jsonProtocol); ok && svc.name == prefix {
				return svc
			}
		}
	}
	if v := versionParam(r, body); v != "" {
		for _, svc := range s.ordered {
			if _, ok := svc.proto.(jsonProtocol); !ok && svc.version == v {
				return svc
			}
		}
	}
	return s.ordered[0]
}

// versionParam is the Version parameter of a form-encoded request, "" when
// there is none (or the request cannot be read: decode says why later).
func versionParam(r *http.Request, body []byte) string {
	if q, err := url.ParseQuery(r.URL.RawQuery); err == nil && q.Get("Version") != "" {
		return q.Get("Version")
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == formContentType {
		if f, err := url.ParseQuery(string(body)); err == nil {
			return f.Get("Version")
		}
	}
	return ""
}
