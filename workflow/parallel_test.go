package workflow

import (
	"os"
	"testing"
)

func TestParallelKeys(t *testing.T) {
	w, err := Parse("wf.yaml", []byte(readBaseString()+"parallel:\n  predict: false\n  by_package: true\n  overlap: pause\n"), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if w.Parallel != (Parallel{Predict: false, ByPackage: true, Overlap: OverlapPause}) {
		t.Fatalf("parallel %+v", w.Parallel)
	}
	w, err = Parse("wf.yaml", []byte(readBaseString()), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if w.Parallel != (Parallel{Predict: true, Overlap: OverlapWarn}) {
		t.Fatalf("the defaults: %+v", w.Parallel)
	}
}
