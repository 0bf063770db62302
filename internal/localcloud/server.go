package localcloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// API versions, as sent in the Version parameter.
const (
	autoScalingVersion = "2011-01-01"
	ec2Version         = "2016-11-15"
)

// maxRequestBody bounds a request body (user-data is at most 16 KiB).
const maxRequestBody = 1 << 20

// asHandler serves one Auto Scaling action; a nil result means the action
// has no output (no <ActionResult> element).
type asHandler func(p params) (any, error)

// ec2Handler serves one EC2 action.
type ec2Handler func(p params) (ec2Response, error)

// request is what ServeHTTP learned about a request, for logging.
type request struct {
	id     string
	api    api
	action string
}

// ServeHTTP implements http.Handler: it routes the request to the Auto
// Scaling or EC2 API by the SigV4 credential scope's service (or, unsigned,
// by Version), verifies the signature and answers in that API's protocol.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{id: newRequestID(), api: apiAutoScaling}
	start := c.clock.Now()
	defer func() {
		if v := recover(); v != nil { // a bug, never input: answer, log, keep serving
			c.log.Error("panic serving request", "action", req.action, "panic", v)
			writeXML(w, http.StatusInternalServerError, req.id, encodeError(req.api, req.id,
				&apiError{Code: internalCode(req.api), Message: "internal error", Status: 500, Server: true}))
		}
	}()
	status := c.serve(w, r, req)
	c.log.Debug("api request", "api", apiName(req.api), "action", req.action, "status", status,
		"requestId", req.id, "duration", c.clock.Since(start))
}

// serve handles a request and returns the HTTP status it answered with.
func (c *Cloud) serve(w http.ResponseWriter, r *http.Request, req *request) int {
	body, form, err := c.readRequest(w, r, req)
	if err == nil {
		req.action = form.Get("Action")
		err = c.authenticate(r, body, form, req)
	}
	if err == nil && c.rnd.chance(c.currentFaults().ThrottleRate) {
		err = throttled(req.api)
	}
	var out []byte
	if err == nil {
		out, err = c.dispatch(req, form)
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			c.log.Error("api request failed", "action", req.action, "error", err)
			ae = &apiError{Code: internalCode(req.api), Message: err.Error(), Status: 500, Server: true}
		}
		writeXML(w, ae.status(), req.id, encodeError(req.api, req.id, ae))
		return ae.status()
	}
	writeXML(w, http.StatusOK, req.id, out)
	return http.StatusOK
}

// readRequest reads the body and decodes the parameters (query string plus,
// for a form POST, the body). It also picks the API for error rendering.
func (c *Cloud) readRequest(w http.ResponseWriter, r *http.Request, req *request) ([]byte, url.Values, error) {
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, nil, errf(codeMalformedQueryString, "malformed query string: %v", err)
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, nil, &apiError{Code: codeInvalidAction, Message: "method " + r.Method + " is not allowed", Status: http.StatusMethodNotAllowed}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		return nil, nil, errf(codeMalformedQueryString, "read request body: %v", err)
	}
	if len(body) > 0 {
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
			return nil, nil, errf(codeMalformedQueryString, "unsupported Content-Type %q: want application/x-www-form-urlencoded", ct)
		}
		bodyForm, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil, errf(codeMalformedQueryString, "malformed form body: %v", err)
		}
		for k, vs := range bodyForm {
			form[k] = append(form[k], vs...)
		}
	}
	req.api = apiFor(r, form)
	return body, form, nil
}

// apiFor picks the API: the signature's service when it names one,
// otherwise the Version parameter, otherwise Auto Scaling.
func apiFor(r *http.Request, form url.Values) api {
	if auth, aerr := parseAuthorization(r.Header.Get("Authorization")); aerr == nil {
		switch auth.Service {
		case "autoscaling":
			return apiAutoScaling
		case "ec2":
			return apiEC2
		}
	}
	if form.Get("Version") == ec2Version {
		return apiEC2
	}
	return apiAutoScaling
}

// authenticate verifies the signature and that the service and version
// agree.
func (c *Cloud) authenticate(r *http.Request, body []byte, form url.Values, req *request) error {
	auth, aerr := parseAuthorization(r.Header.Get("Authorization"))
	if aerr != nil {
		return aerr
	}
	if auth.Service != "autoscaling" && auth.Service != "ec2" {
		return authError(codeSignatureDoesNotMatch, "Credential should be scoped to a valid service ('autoscaling' or 'ec2'), not '%s'.", auth.Service)
	}
	if err := verifySigV4(r, body, auth, c.region.Name); err != nil {
		return err
	}
	want := autoScalingVersion
	if req.api == apiEC2 {
		want = ec2Version
	}
	switch v := form.Get("Version"); {
	case v == "":
		return params{v: form, api: req.api}.requiredErr("Version")
	case v != want:
		return errf(codeNoSuchVersion, "The requested version (%s) of service %s does not exist", v, serviceName(req.api))
	}
	if req.action == "" {
		return errf("MissingAction", "Missing Action")
	}
	return nil
}

// dispatch runs the action and encodes its response.
func (c *Cloud) dispatch(req *request, form url.Values) ([]byte, error) {
	p := params{v: form, api: req.api}
	if req.api == apiEC2 {
		h, ok := c.ec2Ops[req.action]
		if !ok {
			return nil, errf(codeInvalidAction, "The action %s is not valid for this web service.", req.action)
		}
		if dry, err := p.boolOr("DryRun", false); err != nil || dry {
			if err != nil {
				return nil, err
			}
			return nil, &apiError{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.",
				Status: http.StatusPreconditionFailed}
		}
		return c.idem.do(req.action, p, func() ([]byte, error) {
			res, err := h(p)
			if err != nil {
				return nil, err
			}
			return encodeEC2(req.action, req.id, res)
		})
	}
	h, ok := c.asOps[req.action]
	if !ok {
		return nil, errf(codeInvalidAction, "Could not find operation %s for version %s", req.action, autoScalingVersion)
	}
	res, err := h(p)
	if err != nil {
		return nil, err
	}
	return encodeAS(req.action, req.id, res)
}

func throttled(a api) *apiError {
	if a == apiEC2 {
		return &apiError{Code: codeRequestLimitExceeded, Message: "Request limit exceeded.", Status: http.StatusServiceUnavailable}
	}
	return &apiError{Code: codeThrottling, Message: "Rate exceeded", Status: http.StatusBadRequest}
}

func internalCode(a api) string {
	if a == apiEC2 {
		return codeInternalError
	}
	return codeInternalFailure
}

func apiName(a api) string {
	if a == apiEC2 {
		return "ec2"
	}
	return "autoscaling"
}

func serviceName(a api) string {
	if a == apiEC2 {
		return "AmazonEC2"
	}
	return "AmazonAutoScaling"
}

// Server serves a handler on 127.0.0.1.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Listen serves h on 127.0.0.1:port (port 0 picks a free one: persist
// Server.Port and pass it next time so clients keep their endpoint).
func Listen(port int, h http.Handler, logger *slog.Logger) (*Server, error) {
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("listen local cloud: port %d out of range", port)
	}
	if logger == nil {
		logger = slog.Default()
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen local cloud on 127.0.0.1:%d: %w", port, err)
	}
	s := &Server{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// URL returns the endpoint URL, http://127.0.0.1:<port>.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Shutdown stops accepting requests and waits for those in flight (until
// ctx ends).
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down local cloud server: %w", err)
	}
	if err := <-s.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("local cloud server: %w", err)
	}
	return nil
}
