package cli

import (
	"context"
	"log/slog"

	"k8s.io/klog/v2"
)

// RouteKlog sends client-go's klog output to whatever slog.Default() is
// when a record is written, so kelp has one log style. Call it once at
// process start, before any client runs: klog's logger is not safe to swap
// while clients log.
func RouteKlog() {
	klog.SetSlogLogger(slog.New(defaultHandler{}))
}

// defaultHandler forwards to slog.Default()'s handler at each call, so the
// level and format chosen by --log-level apply to klog too.
type defaultHandler struct {
	attrs []slog.Attr
	group string
}

func (h defaultHandler) target() slog.Handler {
	t := slog.Default().Handler()
	if h.group != "" {
		t = t.WithGroup(h.group)
	}
	if len(h.attrs) > 0 {
		t = t.WithAttrs(h.attrs)
	}
	return t
}

func (h defaultHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return slog.Default().Handler().Enabled(ctx, l)
}

func (h defaultHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.target().Handle(ctx, r)
}

func (h defaultHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return h
}

func (h defaultHandler) WithGroup(name string) slog.Handler {
	if h.group != "" {
		name = h.group + "." + name
	}
	h.group = name
	return h
}
