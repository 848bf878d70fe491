package lines

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitterLinesAcrossWrites(t *testing.T) {
	var got []string
	s := &Splitter{Max: 10, Line: func(b []byte) { got = append(got, string(b)) }}
	for _, w := range []string{"ab", "c\nde", "f\n\n  g  \n", strings.Repeat("x", 25), "\nlast"} {
		if n, err := s.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	s.Flush()
	want := []string{"abc", "def", "", "g", "last"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
	if s.Dropped != 1 {
		t.Fatalf("Dropped = %d, want 1", s.Dropped)
	}
}

func TestSplitterFlushCountsUnfinishedLongLine(t *testing.T) {
	s := &Splitter{Max: 3, Line: func([]byte) { t.Fatal("no line expected") }}
	s.Write([]byte("toolong"))
	s.Flush()
	if s.Dropped != 1 {
		t.Fatalf("Dropped = %d, want 1", s.Dropped)
	}
}
