package whatif

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
)

// decoders add an object of their kind to a snapshot, in the order Kinds
// names them.
var decoders = []struct {
	kind string
	add  func(json.RawMessage, *loop.Objects) error
}{
	{"Node", func(r json.RawMessage, o *loop.Objects) error { return add(r, &o.Nodes) }},
	{"Pod", func(r json.RawMessage, o *loop.Objects) error { return add(r, &o.Pods) }},
	{"Namespace", func(r json.RawMessage, o *loop.Objects) error { return add(r, &o.Namespaces) }},
	{"DaemonSet", func(r json.RawMessage, o *loop.Objects) error { return add(r, &o.DaemonSets) }},
	{"PodDisruptionBudget", func(r json.RawMessage, o *loop.Objects) error { return add(r, &o.PDBs) }},
	{"PersistentVolume", func(r json.RawMessage, o *loop.Objects) error { return add(r, &o.PVs) }},
	{"PersistentVolumeClaim", func(r json.RawMessage, o *loop.Objects) error { return add(r, &o.PVCs) }},
	{"StorageClass", func(r json.RawMessage, o *loop.Objects) error { return add(r, &o.StorageClasses) }},
	{"CSINode", func(r json.RawMessage, o *loop.Objects) error { return add(r, &o.CSINodes) }},
	{"ConfigMap", func(r json.RawMessage, o *loop.Objects) error { return add(r, &o.ConfigMaps) }},
}

// Kinds are the kinds of object ReadFiles reads.
var Kinds = func() []string {
	kinds := make([]string, len(decoders))
	for i, d := range decoders {
		kinds[i] = d.kind
	}
	return kinds
}()

// ReadFiles reads the objects of files as `kubectl get -o json` (or -o
// yaml) writes them: single objects or Lists, JSON or YAML, several
// documents per file. A directory stands for its .json, .yaml and .yml
// files. An object of another kind, a file that does not parse or holds
// no object (empty, or only empty Lists) is an error naming the file.
func ReadFiles(paths []string) (loop.Objects, error) {
	var objs loop.Objects
	files, err := expand(paths)
	if err != nil {
		return objs, err
	}
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", f, err))
			continue
		}
		n, err := decodeAll(data, &objs)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
		case n == 0:
			errs = append(errs, fmt.Errorf("%s holds no objects (want the output of kubectl get -o json: objects of kind %s, or Lists of them)", f, strings.Join(Kinds, ", ")))
		}
	}
	return objs, errors.Join(errs...)
}

// expand replaces each directory of paths by its manifest files, sorted.
func expand(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no snapshot file given")
	}
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("snapshot file: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("read snapshot directory: %w", err)
		}
		var found []string
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".json" || ext == ".yaml" || ext == ".yml") {
				found = append(found, filepath.Join(p, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("snapshot directory %s: no .json, .yaml or .yml file", p)
		}
		slices.Sort(found)
		out = append(out, found...)
	}
	return out, nil
}

// header is what decoding needs to know of a document.
type header struct {
	Kind  string            `json:"kind"`
	Items []json.RawMessage `json:"items"`
}

// decodeAll adds every object of data's documents to objs, and returns
// how many it added.
func decodeAll(data []byte, objs *loop.Objects) (int, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	added := 0
	for n := 1; ; n++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return added, nil
		}
		if err != nil {
			return added, fmt.Errorf("document %d: malformed: %w", n, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		k, err := decodeObject(raw, "", objs)
		added += k
		if err != nil {
			return added, fmt.Errorf("document %d: %w", n, err)
		}
	}
}

// decodeObject adds one object, or a List's items, to objs, and returns
// how many it added. kind is the kind implied by a typed list (PodList's
// items carry none).
func decodeObject(raw json.RawMessage, kind string, objs *loop.Objects) (int, error) {
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		return 0, malformed("not a Kubernetes object or List", err)
	}
	if h.Kind == "" {
		h.Kind = kind
	}
	if item, ok := strings.CutSuffix(h.Kind, "List"); ok {
		added := 0
		for i, it := range h.Items {
			k, err := decodeObject(it, item, objs)
			added += k
			if err != nil {
				return added, fmt.Errorf("items[%d]: %w", i, err)
			}
		}
		return added, nil
	}
	return 1, decodeKind(raw, h.Kind, objs)
}

// decodeKind adds raw, an object of kind, to objs.
func decodeKind(raw json.RawMessage, kind string, objs *loop.Objects) error {
	if kind == "" {
		return errors.New("an object without a kind")
	}
	for _, d := range decoders {
		if d.kind == kind {
			return d.add(raw, objs)
		}
	}
	return fmt.Errorf("kind %s is not one kelp reads from a snapshot (want %s)", kind, strings.Join(Kinds, ", "))
}

// object are the kinds ReadFiles decodes.
type object interface {
	corev1.Node | corev1.Pod | corev1.Namespace | appsv1.DaemonSet | policyv1.PodDisruptionBudget |
		corev1.PersistentVolume | corev1.PersistentVolumeClaim | storagev1.StorageClass | storagev1.CSINode | corev1.ConfigMap
}

// add decodes raw as a T and appends it to *to.
func add[T object](raw json.RawMessage, to *[]*T) error {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return malformed("malformed "+reflect.TypeOf(v).Elem().Name(), err)
	}
	*to = append(*to, v)
	return nil
}

// decodeError is a decoding error in people's words, wrapping the
// decoder's (whose words name Go types).
type decodeError struct {
	msg string
	err error
}

func (e decodeError) Error() string { return e.msg }
func (e decodeError) Unwrap() error { return e.err }

// malformed says what is wrong with a document: what, and where a value
// of the wrong JSON type stands or where the syntax breaks.
func malformed(what string, err error) error {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typ) && typ.Field != "":
		what = fmt.Sprintf("%s: field %s is a %s where %s belongs", what, typ.Field, typ.Value, jsonKind(typ.Type))
	case errors.As(err, &typ):
		what = fmt.Sprintf("%s: a %s where %s belongs", what, typ.Value, jsonKind(typ.Type))
	case errors.As(err, &syn):
		what = fmt.Sprintf("%s: %s at byte %d", what, syn, syn.Offset)
	default:
		what += ": " + err.Error()
	}
	return decodeError{msg: what, err: err}
}

// jsonKind is what JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a number"
}
