package houserules

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Limits of STYLE.md rule 11, for the non-test Go files under internal/.
const (
	maxFileLines = 500
	maxFuncLines = 80
)

// oversized returns every non-test Go file under root longer than
// maxFileLines and every function (or method) longer than maxFuncLines.
func oversized(root string) ([]string, error) {
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parse %s: %w", p, err)
		}
		if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
			out = append(out, fmt.Sprintf("%s: %d lines (at most %d)", p, n, maxFileLines))
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			if n := end.Line - start.Line + 1; n > maxFuncLines {
				out = append(out, fmt.Sprintf("%s:%d: func %s: %d lines (at most %d)", p, start.Line, fn.Name.Name, n, maxFuncLines))
			}
		}
		return nil
	})
	return out, err
}

func TestSizes(t *testing.T) {
	found, err := oversized("../../internal")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Error(f)
	}
}

func TestOversizedFindsLongFunctions(t *testing.T) {
	dir := t.TempDir()
	long := "package x\n\nfunc long() {\n" + strings.Repeat("\t_ = 1\n", maxFuncLines) + "}\n"
	short := "package x\n\nfunc short() {}\n"
	for name, src := range map[string]string{"long.go": long, "short.go": short, "long_test.go": long} {
		if err := writeFile(filepath.Join(dir, name), src); err != nil {
			t.Fatal(err)
		}
	}
	found, err := oversized(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || !strings.Contains(found[0], "func long") {
		t.Errorf("oversized = %q, want only func long of long.go", found)
	}
}

func writeFile(path, src string) error { return os.WriteFile(path, []byte(src), 0o644) }
