package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
// level and format chosen by --log-level and --log-format apply to klog too.
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

// logFlags are kelp's logging flags, persistent on every command.
type logFlags struct {
	level, format string
}

func (f *logFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.format, "log-format", "text", "log format: text (key=value) or json (one object a line)")
}

// setup installs kelp's one logger: structured records on stderr through
// log/slog, as text or JSON. cmd's klog flags (--v, addKlogFlags), when it
// has them, may make it more verbose.
func (f *logFlags) setup(cmd *cobra.Command) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.level)); err != nil {
		return flagError("log-level", f.level, "want debug, info, warn or error")
	}
	v, err := klogVerbosity(cmd.Flags())
	if err != nil {
		return err
	}
	if v > 0 {
		level = min(level, slog.Level(-v))
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch f.format {
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	default:
		return flagError("log-format", f.format, "want text or json")
	}
	// slog.SetDefault is safe while other goroutines log; klog follows it
	// through RouteKlog, installed once by main.
	slog.SetDefault(slog.New(h))
	return nil
}

// addKlogFlags adds the klog flags cluster-autoscaler's users pass (its
// Deployment args): --v, klog's verbosity, and --logtostderr and
// --stderrthreshold, which describe what kelp does anyway.
func addKlogFlags(fs *pflag.FlagSet) {
	fs.Int("v", 0, "klog verbosity, as cluster-autoscaler's --v: N logs client-go's V(N) records and sets the log level to -N on slog's scale (4 and above: debug); with --log-level, the more verbose wins")
	fs.Var(onlyValue{value: "true", why: "kelp logs to stderr only"}, "logtostderr", "accepted for cluster-autoscaler's args: kelp logs to stderr only (true is the only value)")
	fs.Lookup("logtostderr").NoOptDefVal = "true"
	fs.Var(&stderrThreshold{}, "stderrthreshold", "accepted for cluster-autoscaler's args: INFO, WARNING, ERROR or FATAL (or 0-3); kelp writes every record to stderr, as klog does with --logtostderr")
}

// klogVerbosity reads --v from fs, 0 when fs has no --v, and sets klog's
// verbosity to it, so client-go's V(n) records reach kelp's logger.
func klogVerbosity(fs *pflag.FlagSet) (int, error) {
	f := fs.Lookup("v")
	if f == nil || !f.Changed {
		return 0, nil
	}
	v, err := strconv.Atoi(f.Value.String())
	if err != nil || v < 0 {
		return 0, flagError("v", f.Value.String(), "want a non-negative integer")
	}
	var klogFlags flag.FlagSet
	klog.InitFlags(&klogFlags)
	if err := klogFlags.Set("v", strconv.Itoa(v)); err != nil {
		return 0, fmt.Errorf("set klog verbosity %d: %w", v, err)
	}
	return v, nil
}

// stderrThreshold is klog's --stderrthreshold: a severity name or number.
type stderrThreshold struct{ v string }

func (s *stderrThreshold) String() string { return s.v }
func (s *stderrThreshold) Type() string   { return "severity" }
func (s *stderrThreshold) Set(v string) error {
	switch strings.ToUpper(v) {
	case "INFO", "WARNING", "ERROR", "FATAL", "0", "1", "2", "3":
		s.v = v
		return nil
	}
	return fmt.Errorf("want INFO, WARNING, ERROR or FATAL (or 0-3)")
}
