package repocheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function may be, from `func` to its closing
// brace: a longer one is split where a name explains the piece.
const maxFuncLines = 60

// TestFunctionLength fails, naming file:line, on a non-test function of a
// tracked Go file that is longer than maxFuncLines. Generated code is exempt.
func TestFunctionLength(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	n := 0
	for _, f := range trackedFiles(t, root) {
		if !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(root, filepath.FromSlash(f)), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if ast.IsGenerated(file) {
			continue
		}
		n++
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			start, end := fset.Position(fd.Pos()), fset.Position(fd.Body.End())
			if lines := end.Line - start.Line + 1; lines > maxFuncLines {
				t.Errorf("%s:%d: %s is %d lines (at most %d): split it where a name explains the piece", f, start.Line, fd.Name.Name, lines, maxFuncLines)
			}
		}
	}
	if n < 50 {
		t.Fatalf("read %d Go files; want the whole repository", n)
	}
}
