package whatif

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
)

// Kinds are the kinds of object ReadFiles reads.
var Kinds = []string{"Node", "Pod", "Namespace", "DaemonSet", "PodDisruptionBudget", "PersistentVolume",
	"PersistentVolumeClaim", "StorageClass", "CSINode", "ConfigMap"}

// ReadFiles reads the objects of files as `kubectl get -o json` (or -o
// yaml) writes them: single objects or Lists, JSON or YAML, several
// documents per file. A directory stands for its .json, .yaml and .yml
// files. An object of another kind, or a file that does not parse, is an
// error naming the file.
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
		if err := decodeAll(data, &objs); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
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

// decodeAll adds every object of data's documents to objs.
func decodeAll(data []byte, objs *loop.Objects) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for n := 1; ; n++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: malformed: %w", n, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		if err := decodeObject(raw, "", objs); err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
	}
}

// decodeObject adds one object, or a List's items, to objs. kind is the
// kind implied by a typed list (PodList's items carry none).
func decodeObject(raw json.RawMessage, kind string, objs *loop.Objects) error {
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("malformed object: %w", err)
	}
	if h.Kind == "" {
		h.Kind = kind
	}
	if item, ok := strings.CutSuffix(h.Kind, "List"); ok {
		for i, it := range h.Items {
			if err := decodeObject(it, item, objs); err != nil {
				return fmt.Errorf("items[%d]: %w", i, err)
			}
		}
		return nil
	}
	var err error
	switch h.Kind {
	case "Node":
		objs.Nodes, err = add(raw, objs.Nodes)
	case "Pod":
		objs.Pods, err = add(raw, objs.Pods)
	case "Namespace":
		objs.Namespaces, err = add(raw, objs.Namespaces)
	case "DaemonSet":
		objs.DaemonSets, err = add(raw, objs.DaemonSets)
	case "PodDisruptionBudget":
		objs.PDBs, err = add(raw, objs.PDBs)
	case "PersistentVolume":
		objs.PVs, err = add(raw, objs.PVs)
	case "PersistentVolumeClaim":
		objs.PVCs, err = add(raw, objs.PVCs)
	case "StorageClass":
		objs.StorageClasses, err = add(raw, objs.StorageClasses)
	case "CSINode":
		objs.CSINodes, err = add(raw, objs.CSINodes)
	case "ConfigMap":
		objs.ConfigMaps, err = add(raw, objs.ConfigMaps)
	case "":
		return errors.New("an object without a kind")
	default:
		return fmt.Errorf("kind %s is not one kelp reads from a snapshot (want %s)", h.Kind, strings.Join(Kinds, ", "))
	}
	return err
}

// object are the kinds ReadFiles decodes.
type object interface {
	corev1.Node | corev1.Pod | corev1.Namespace | appsv1.DaemonSet | policyv1.PodDisruptionBudget |
		corev1.PersistentVolume | corev1.PersistentVolumeClaim | storagev1.StorageClass | storagev1.CSINode | corev1.ConfigMap
}

// add decodes raw as a T and appends it to to.
func add[T object](raw json.RawMessage, to []*T) ([]*T, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return to, fmt.Errorf("malformed %T: %w", *v, err)
	}
	return append(to, v), nil
}
