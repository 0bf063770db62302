package webview

import (
	"net/http"
)

func (s *Server) current() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.payload
}

func (s *Server) serveView(w http.ResponseWriter, r *http.Request) {
	data := s.current()
	if data == nil {
		http.Error(w, "the web view's watches have not synced yet", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}

// maxStreams bounds the live streams a replica serves at once: each holds
// a connection, a goroutine and a copy of the payload in flight.
const maxStreams = 64

// serveStream sends the current payload, then every new one, as
// server-sent events ("event: view"), until the client goes.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	c := make(chan []byte, 1)
	s.mu.Lock()
	if len(s.clients) >= maxStreams {
		s.mu.Unlock()
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many live streams on this replica; retry later", http.StatusServiceUnavailable)
		return
	}
	s.clients[c] = struct{}{}
	if s.payload != nil {
		c <- s.payload
	}
	s.mu.Unlock()
	s.metrics.streams.Inc()
	defer func() {
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
		s.metrics.streams.Dec()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case data := <-c:
			if _, err := w.Write([]byte("event: view\ndata: ")); err != nil {
				return
			}
			if _, err := w.Write(data); err != nil {
				return
			}
			if _, err := w.Write([]byte("\n\n")); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}
