package racewaysql

import (
	goparser "go/parser"
	gotoken "go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The capture adds nothing to an application's dependencies but racewayotel:
// its non-test files import the standard library and racewayotel (with its
// internal packages) only (the drivers are the application's; the SQL
// reader is the capture's own).
func TestImports(t *testing.T) {
	const racewayotelPath = "github.com/raceway-otel/raceway/racewayotel"
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(fset, n, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			own := path == racewayotelPath || strings.HasPrefix(path, racewayotelPath+"/internal/")
			if strings.Contains(first, ".") && !own {
				t.Errorf("%s imports %s: only the standard library and racewayotel are allowed", n, path)
			}
		}
	}
}
