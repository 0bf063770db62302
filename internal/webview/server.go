package webview

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/clusterview"
)

//go:embed assets
var assets embed.FS

// Defaults of Options.
const (
	DefaultSampleInterval = 10 * time.Second
	DefaultSpan           = time.Hour
	// coalesce gathers the changes that arrive together (a scale-up's
	// events, the status) into one update of the page.
	coalesce = 100 * time.Millisecond
)

// Options configure the web view.
type Options struct {
	// Addr is the address to listen on, e.g. 127.0.0.1:8081. On a
	// loopback host no credentials are asked; elsewhere (":8081" too)
	// requests for data need a bearer token (see the package doc).
	Addr string
	// StatusConfigMap is the status ConfigMap's name in kube-system.
	StatusConfigMap string
	// SampleInterval is how often a sample of the plots is taken; Span how
	// long samples are kept. Defaults: DefaultSampleInterval, DefaultSpan.
	SampleInterval, Span time.Duration
}

// Validate reports a malformed address.
func (o Options) Validate() error {
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return fmt.Errorf("web address %q: %w", o.Addr, err)
	}
	if o.SampleInterval < 0 || o.Span < 0 {
		return fmt.Errorf("web sample interval %s and span %s: must not be negative", o.SampleInterval, o.Span)
	}
	return nil
}

// Loopback reports whether addr's host is a loopback address or
// "localhost": no credentials are asked there.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Deps are what the view reads.
type Deps struct {
	Client kubernetes.Interface
	// Groups, when set, returns the cloud's snapshot of the groups, or nil
	// when this replica has none fresh (see clusterview.Input.Groups).
	Groups func(ctx context.Context) []cloud.NodeGroup
	// Leading reports whether this replica runs the controllers.
	Leading  func() bool
	Registry prometheus.Registerer
	Logger   *slog.Logger
	Clock    clock.WithTicker
}

// Server is the web view of one replica.
type Server struct {
	o       Options
	d       Deps
	watch   *Watch
	metrics *metrics
	dirty   chan struct{}

	mu   sync.Mutex
	ring *clusterview.Ring
	// peak holds the highest counts of the views built since the last
	// sample: pods are pending (and their latency known) only briefly.
	peak    clusterview.Peak
	payload []byte
	clients map[chan []byte]struct{}
}

// New builds the server and its watches; Run starts them.
func New(o Options, d Deps) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.SampleInterval == 0 {
		o.SampleInterval = DefaultSampleInterval
	}
	if o.Span == 0 {
		o.Span = DefaultSpan
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	s := &Server{o: o, d: d, dirty: make(chan struct{}, 1), ring: clusterview.NewRing(o.Span), clients: map[chan []byte]struct{}{}}
	w, err := NewWatch(d.Client, o.StatusConfigMap, s.changed)
	if err != nil {
		return nil, err
	}
	s.watch, s.metrics = w, newMetrics(d.Registry)
	return s, nil
}

func (s *Server) changed() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// Handler serves the page, /api/view (the view and the samples, JSON) and
// /api/stream (the same, pushed as server-sent events on every change).
// Off loopback, /api/ asks for a bearer token (package doc).
func (s *Server) Handler() http.Handler {
	static, _ := fs.Sub(assets, "assets")
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(static))
	api := http.NewServeMux()
	api.HandleFunc("GET /api/view", s.serveView)
	api.HandleFunc("GET /api/stream", s.serveStream)
	var protected http.Handler = api
	if !Loopback(s.o.Addr) {
		protected = newAuthorizer(s.d.Client, s.d.Clock).wrap(api)
	}
	mux.Handle("/api/", protected)
	return s.metrics.instrument(mux)
}

// Run serves until ctx ends: it starts the watches, listens on Addr, and
// refreshes the view on every change and the samples every interval.
// It returns once it listens (or fails to); the work goes on in
// goroutines that end with ctx.
func (s *Server) Run(ctx context.Context) (net.Addr, error) {
	l, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the web view on %s: %w", s.o.Addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	s.watch.Start(ctx)
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.d.Logger.Error("web view stopped", "addr", l.Addr().String(), "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		s.watch.Shutdown()
	}()
	go s.loop(ctx)
	return l.Addr(), nil
}

// loop refreshes the view after changes (coalesced) and takes a sample
// every interval, once the watches have synced.
func (s *Server) loop(ctx context.Context) {
	tick := s.d.Clock.NewTicker(s.o.SampleInterval)
	defer tick.Stop()
	sampled := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
			sampled = s.refresh(ctx, true) || sampled
		case <-s.dirty:
			select {
			case <-ctx.Done():
				return
			case <-s.d.Clock.After(coalesce):
			}
			// The first sample is taken as soon as the watches synced.
			sampled = s.refresh(ctx, !sampled) || sampled
		}
	}
}

// refresh builds the view, adds a sample when asked, and pushes it to the
// streams. It reports whether a sample was taken (not before the watches
// synced).
func (s *Server) refresh(ctx context.Context, sample bool) bool {
	if !s.watch.Synced() {
		return false
	}
	in := s.watch.Input()
	in.Now = s.d.Clock.Now()
	if s.d.Groups != nil {
		in.Groups = s.d.Groups(ctx)
	}
	if s.d.Leading != nil {
		leading := s.d.Leading()
		in.Leading = &leading
	}
	v := clusterview.Build(in)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sample {
		s.ring.Add(s.peak.Take(v))
	} else {
		s.peak.Observe(v)
	}
	data, err := json.Marshal(Payload{View: v, Samples: s.ring.Samples()})
	if err != nil {
		s.d.Logger.Error("encode the web view", "err", err)
		return sample
	}
	s.payload = data
	for c := range s.clients {
		select { // keep only the newest for a slow client
		case <-c:
		default:
		}
		c <- data
	}
	return sample
}

// Payload is what /api/view and each event of /api/stream carry.
type Payload struct {
	View    clusterview.View     `json:"view"`
	Samples []clusterview.Sample `json:"samples"`
}
