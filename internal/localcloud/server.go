package localcloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRequestBody bounds a request body (user-data is at most 16 KiB).
const maxRequestBody = 1 << 20

// request is what ServeHTTP learned about a request, for logging and
// for rendering its error.
type request struct {
	id     string
	svc    *service
	action string
	caller string // the principal's name, once authenticated
}

// ServeHTTP implements http.Handler: it routes the request to a registered
// service by the SigV4 credential scope's service (unsigned: by
// X-Amz-Target or Version), decodes it with the service's protocol,
// authenticates the caller, and answers in that protocol.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{id: newRequestID()}
	start := c.clock.Now()
	defer func() {
		if v := recover(); v != nil { // a bug, never input: answer, log, keep serving
			c.log.Error("panic serving request", "action", req.action, "panic", v)
			c.writeError(w, req, fail(failInternal, ""))
		}
	}()
	status := c.serve(w, r, req)
	service := ""
	if req.svc != nil {
		service = req.svc.signingName
	}
	c.log.Debug("api request", "api", service, "action", req.action, "caller", req.caller, "status", status,
		"requestId", req.id, "duration", c.clock.Since(start))
}

// serve handles a request and returns the HTTP status it answered with.
func (c *Cloud) serve(w http.ResponseWriter, r *http.Request, req *request) int {
	body, err := readBody(w, r)
	req.svc = c.services.route(r, body)
	var in *call
	if err == nil {
		in, err = req.svc.proto.decode(r, body)
	}
	if err == nil {
		in.id, req.action = req.id, in.action
		in.ctx, in.host = r.Context(), r.Host
		in.caller, err = c.authenticate(r, body, req.svc)
		req.caller = in.caller.Name
	}
	if err == nil {
		err = req.svc.proto.check(req.svc, in)
	}
	if err == nil && c.rnd.chance(c.currentFaults().ThrottleRate) {
		err = fail(failThrottled, "")
	}
	var out []byte
	if err == nil {
		out, err = c.dispatch(req.svc, in)
	}
	if err != nil {
		return c.writeError(w, req, err)
	}
	writeResponse(w, http.StatusOK, req.id, req.svc.proto.contentType(), out)
	return http.StatusOK
}

// writeError answers err in the protocol of the request's service (the
// first registered when none was picked) and returns the status.
func (c *Cloud) writeError(w http.ResponseWriter, req *request, err error) int {
	svc := req.svc
	if svc == nil {
		svc = c.services.first()
	}
	var ae *apiError
	var f *failed
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &f):
		ae = svc.proto.failure(f.kind, f.msg)
	default:
		c.log.Error("api request failed", "action", req.action, "error", err)
		ae = svc.proto.failure(failInternal, err.Error())
	}
	if ae.QueryError != "" {
		w.Header().Set("X-Amzn-Query-Error", ae.QueryError)
	}
	writeResponse(w, ae.status(), req.id, svc.proto.contentType(), svc.proto.encodeError(svc, req.id, ae))
	return ae.status()
}

// readBody reads the body of a POST or GET.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, &apiError{Code: codeInvalidAction, Message: "method " + r.Method + " is not allowed", Status: http.StatusMethodNotAllowed}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		return nil, fail(failMalformed, "read request body: "+err.Error())
	}
	return body, nil
}

// authenticate verifies the request's signature with the keys of the
// principal its credential scope names and returns that principal.
func (c *Cloud) authenticate(r *http.Request, body []byte, svc *service) (Principal, error) {
	auth, ferr := parseAuthorization(r.Header.Get("Authorization"))
	if ferr != nil {
		return Principal{}, ferr
	}
	if auth.Service != svc.signingName {
		return Principal{}, failf(failBadSignature, "Credential should be scoped to a valid service (%s), not '%s'.",
			quotedList(c.services.signingNames()), auth.Service)
	}
	p, ferr := c.principals.resolve(auth.AccessKey, securityToken(r), c.clock.Now())
	if ferr != nil {
		return Principal{}, ferr
	}
	region := c.region.Name
	if svc.global && auth.Region == globalRegion {
		region = globalRegion
	}
	if ferr := verifySigV4(r, body, auth, region, p.SecretAccessKey); ferr != nil {
		return Principal{}, ferr
	}
	return p, nil
}

// globalRegion is the region global services (IAM, STS) sign for.
const globalRegion = "us-east-1"

// securityToken is the session token a request carries: the
// X-Amz-Security-Token header, or query parameter of a presigned URL.
func securityToken(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Security-Token"); t != "" {
		return t
	}
	return r.URL.Query().Get("X-Amz-Security-Token")
}

// quotedList renders names as 'a', 'b' or 'c'.
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// dispatch authorizes the caller, runs the action and encodes its result.
func (c *Cloud) dispatch(svc *service, in *call) ([]byte, error) {
	h, ok := svc.actions[in.action]
	if !ok {
		return nil, svc.proto.unknownAction(svc, in.action)
	}
	if err := c.authorize(svc, in); err != nil {
		return nil, err
	}
	run := func() ([]byte, error) {
		res, err := h(in)
		if err != nil {
			return nil, err
		}
		return svc.proto.encode(svc, in, res)
	}
	if svc.around != nil {
		return svc.around(in, run)
	}
	return run()
}

// authorize asks the caller's Authorizer about the request, with what it
// touches (authz.go) when the caller has one.
func (c *Cloud) authorize(svc *service, in *call) error {
	if in.caller.Authorizer == nil || svc.noPermission[in.action] {
		return nil
	}
	sc := c.scopeOf(svc, in)
	if err := in.caller.authorize(sc.access(svc.signingName, in.action)); err != nil {
		return err
	}
	for _, d := range sc.dependent {
		err := in.caller.authorize(d.scope.access(d.service, d.action))
		var f *failed
		if err != nil && d.refused != nil && errors.As(err, &f) {
			return d.refused(f.msg)
		}
		if err != nil {
			return err
		}
	}
	return nil
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
