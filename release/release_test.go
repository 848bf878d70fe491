package release

import (
	"strings"
	"testing"
	"time"
)

func TestKindOf(t *testing.T) {
	cases := []struct {
		name, title, body string
		labels            []string
		want              Kind
	}{
		{"nothing", "Make it faster", "", nil, Other},
		{"label breaking", "x", "", []string{"Breaking"}, Breaking},
		{"label breaking-change", "x", "", []string{"breaking-change"}, Breaking},
		{"label semver:major", "x", "", []string{"SEMVER:MAJOR"}, Breaking},
		{"label kind:breaking", "x", "", []string{"kind:breaking"}, Breaking},
		{"label feature", "x", "", []string{"feature"}, Feature},
		{"label enhancement", "x", "", []string{" Enhancement "}, Feature},
		{"label feat", "x", "", []string{"feat"}, Feature},
		{"label kind:feature", "x", "", []string{"kind:feature"}, Feature},
		{"label semver:minor", "x", "", []string{"semver:minor"}, Feature},
		{"label bug", "x", "", []string{"bug"}, Fix},
		{"label fix", "x", "", []string{"fix"}, Fix},
		{"label bugfix", "x", "", []string{"BugFix"}, Fix},
		{"label kind:bug", "x", "", []string{"kind:bug"}, Fix},
		{"label semver:patch", "x", "", []string{"semver:patch"}, Fix},
		{"workflow labels say nothing", "x", "", []string{"dev:done", "mr:approved"}, Other},
		{"title feat", "feat: dark mode", "", nil, Feature},
		{"title feat scope", "feat(ui): dark mode", "", nil, Feature},
		{"title FEAT", "FEAT: dark mode", "", nil, Feature},
		{"title fix", "fix: crash on empty input", "", nil, Fix},
		{"title fix scope", "fix(parser): crash", "", nil, Fix},
		{"title bang", "feat!: drop v1 API", "", nil, Breaking},
		{"title scope bang", "refactor(api)!: rename fields", "", nil, Breaking},
		{"title other type", "refactor: tidy", "", nil, Other},
		{"title no space", "feat:x", "", nil, Other},
		{"title mid sentence", "Add feat: later", "", nil, Other},
		{"body footer", "feat: new config", "Text.\n\nBREAKING CHANGE: the old key is gone", nil, Breaking},
		{"body footer hyphen", "x", "BREAKING-CHANGE: gone", nil, Breaking},
		{"body footer bold", "x", "- **BREAKING CHANGE:** gone", nil, Breaking},
		{"body mention", "x", "This is not a BREAKING CHANGE: really", nil, Other},
		{"body lower case", "x", "breaking change: no", nil, Other},
		{"label beats title", "fix: typo", "", []string{"breaking"}, Breaking},
		{"label feature beats fix title", "fix: x", "", []string{"enhancement"}, Feature},
		{"title beats weaker label", "feat: x", "", []string{"bug"}, Feature},
		{"bang beats label", "fix!: x", "", []string{"bug"}, Breaking},
		{"strongest label", "x", "", []string{"bug", "semver:minor", "docs"}, Feature},
	}
	for _, c := range cases {
		if got := KindOf(c.title, c.body, c.labels); got != c.want {
			t.Errorf("%s: KindOf(%q, %q, %q) = %s, want %s", c.name, c.title, c.body, c.labels, got, c.want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	good := []struct {
		in   string
		want Version
	}{
		{"1.2.3", Version{1, 2, 3}},
		{"v1.2.3", Version{1, 2, 3}},
		{" 0.10.0\n", Version{0, 10, 0}},
		{"0.0.0", Version{}},
	}
	for _, c := range good {
		got, err := ParseVersion(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, wantErr string }{
		{"", "not MAJOR.MINOR.PATCH"},
		{"1.2", "not MAJOR.MINOR.PATCH"},
		{"1.2.3.4", "not MAJOR.MINOR.PATCH"},
		{"1.2.3-rc.1", `pre-release or build suffix "-rc.1"`},
		{"1.2.3+build.5", `pre-release or build suffix "+build.5"`},
		{"1.02.3", "leading zero"},
		{"1.x.3", `"x" is not a number`},
		{"1..3", `"" is not a number`},
		{"release-1.2.3", "suffix"},
		{"vv1.2.3", "not a number"},
		{"1.2.99999999999999999999", "too large"},
	}
	for _, c := range bad {
		_, err := ParseVersion(c.in)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("ParseVersion(%q) error %v, want %q", c.in, err, c.wantErr)
		}
	}
}

func TestVersionMethods(t *testing.T) {
	v := Version{1, 2, 3}
	if v.String() != "1.2.3" || v.Tag("v") != "v1.2.3" || v.Tag("") != "1.2.3" {
		t.Errorf("String/Tag: %q %q %q", v.String(), v.Tag("v"), v.Tag(""))
	}
	less := [][2]Version{{{1, 2, 3}, {1, 2, 4}}, {{1, 2, 9}, {1, 3, 0}}, {{1, 9, 9}, {2, 0, 0}}, {{0, 9, 0}, {0, 10, 0}}}
	for _, p := range less {
		if !p[0].Less(p[1]) || p[1].Less(p[0]) {
			t.Errorf("Less: want %v < %v", p[0], p[1])
		}
	}
	if v.Less(v) {
		t.Errorf("%v.Less(itself)", v)
	}
}

func TestNext(t *testing.T) {
	prev := &Version{1, 4, 2}
	cases := []struct {
		name  string
		prev  *Version
		kinds []Kind
		first Version
		want  Version
	}{
		{"breaking", prev, []Kind{Fix, Breaking, Feature}, Version{}, Version{2, 0, 0}},
		{"feature", prev, []Kind{Fix, Feature, Other}, Version{}, Version{1, 5, 0}},
		{"fix", prev, []Kind{Fix, Other}, Version{}, Version{1, 4, 3}},
		{"other", prev, []Kind{Other}, Version{}, Version{1, 4, 3}},
		{"unknown kind counts as other", prev, []Kind{"misc"}, Version{}, Version{1, 4, 3}},
		{"nothing", prev, nil, Version{}, Version{1, 4, 3}},
		{"breaking in 0.x", &Version{0, 3, 1}, []Kind{Breaking}, Version{}, Version{1, 0, 0}},
		{"first release", nil, []Kind{Breaking}, Version{1, 0, 0}, Version{1, 0, 0}},
		{"first release default", nil, []Kind{Fix}, Version{}, Version{0, 1, 0}},
	}
	for _, c := range cases {
		if got := Next(c.prev, c.kinds, c.first); got != c.want {
			t.Errorf("%s: Next = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	prev := &Version{0, 1, 0}
	fixes := []Item{{Issue: 5, Kind: Fix}, {Issue: 3, Kind: Fix}}
	mixed := []Item{{Issue: 7, Kind: Feature}, {Issue: 3, Kind: Fix}, {Issue: 9, Kind: Other}, {Issue: 2, Kind: Feature}}
	breaking := []Item{{Issue: 8, Kind: Breaking}, {Issue: 3, Kind: Fix}}
	fixAndOther := []Item{{Issue: 4, Kind: Other}, {Issue: 3, Kind: Fix}}
	var many []Item
	for i := int64(1); i <= 12; i++ {
		many = append(many, Item{Issue: i, Kind: Breaking})
	}
	cases := []struct {
		name, proposed string
		prev           *Version
		items          []Item
		want           Version
		correction     string
	}{
		{"agrees", "0.1.1", prev, fixes, Version{0, 1, 1}, ""},
		{"agrees with v", "v0.2.0", prev, mixed, Version{0, 2, 0}, ""},
		{"fixes only", "0.2.0", prev, fixes, Version{0, 1, 1},
			"the release agent proposed 0.2.0, but the merged issues hold fixes only (#3, #5), so the release after 0.1.0 is 0.1.1"},
		{"fixes and others", "1.0.0", prev, fixAndOther, Version{0, 1, 1},
			"the release agent proposed 1.0.0, but the merged issues hold fixes (#3) and no feature or breaking change, so the release after 0.1.0 is 0.1.1"},
		{"features", "0.1.1", prev, mixed, Version{0, 2, 0},
			"the release agent proposed 0.1.1, but the merged issues hold features (#2, #7) and no breaking change, so the release after 0.1.0 is 0.2.0"},
		{"breaking", "0.2.0", prev, breaking, Version{1, 0, 0},
			"the release agent proposed 0.2.0, but the merged issues hold breaking changes (#8), so the release after 0.1.0 is 1.0.0"},
		{"others only", "0.2.0", prev, []Item{{Issue: 6, Kind: Other}}, Version{0, 1, 1},
			"the release agent proposed 0.2.0, but the merged issues hold no breaking change, feature or fix (#6), so the release after 0.1.0 is 0.1.1"},
		{"many", "0.2.0", prev, many, Version{1, 0, 0},
			"the release agent proposed 0.2.0, but the merged issues hold breaking changes (#1, #2, #3, #4, #5, #6, #7, #8, #9, #10 and 2 more), so the release after 0.1.0 is 1.0.0"},
		{"unparsable", "two point oh", prev, fixes, Version{0, 1, 1},
			`the release agent proposed "two point oh", which is not a version, but the merged issues hold fixes only (#3, #5), so the release after 0.1.0 is 0.1.1`},
		{"empty", "", prev, fixes, Version{0, 1, 1},
			"the release agent proposed no version, but the merged issues hold fixes only (#3, #5), so the release after 0.1.0 is 0.1.1"},
		{"first release agrees", "0.1.0", nil, breaking, Version{0, 1, 0}, ""},
		{"first release", "1.0.0", nil, breaking, Version{0, 1, 0},
			"the release agent proposed 1.0.0, but this is the first release, which the workflow's first_version sets to 0.1.0"},
	}
	for _, c := range cases {
		got, corr := Check(c.proposed, c.prev, c.items, Version{0, 1, 0})
		if got != c.want || corr != c.correction {
			t.Errorf("%s: Check = %v, %q\nwant %v, %q", c.name, got, corr, c.want, c.correction)
		}
	}
	// A long proposal is clipped in the sentence.
	_, corr := Check(strings.Repeat("x", 500), prev, fixes, Version{})
	if len(corr) > 200 || !strings.Contains(corr, "…") {
		t.Errorf("long proposal not clipped: %q", corr)
	}
}

var date = time.Date(2026, 12, 7, 23, 30, 0, 0, time.FixedZone("x", -2*3600)) // 2026-12-08 in UTC

func TestMarkdown(t *testing.T) {
	n := Notes{
		Version:   Version{0, 2, 0},
		TagPrefix: "v",
		Date:      date,
		Summary:   "  Dark mode arrives.\n\n# Highlights\n\n```sh\n# a comment\n```\n",
		Items: []Item{
			{Issue: 13, Title: "fix: crash\non empty input", Kind: Fix, IssueURL: "https://x/issues/13", MR: 4, MRURL: "https://x/mr/4"},
			{Issue: 12, Title: "feat(ui): dark mode", Kind: Feature, MR: 3},
			{Issue: 9, Title: "Tidy the README", Kind: Other},
			{Issue: 2, Title: "Sort flags", Kind: Fix, IssueURL: "https://x/issues/2"},
		},
		Correction: "the release agent proposed 0.1.1, but …",
	}
	want := `## v0.2.0 (2026-12-08)

> **Note:** the release agent proposed 0.1.1, but …

Dark mode arrives.

#### Highlights

` + "```sh\n# a comment\n```" + `

### Features

- ui: dark mode (#12, !3)

### Fixes

- Sort flags ([#2](https://x/issues/2))
- Crash on empty input ([#13](https://x/issues/13), [!4](https://x/mr/4))

### Other changes

- Tidy the README (#9)
`
	if got := n.Markdown(); got != want {
		t.Errorf("Markdown:\n%s\nwant:\n%s", got, want)
	}
	if n.Markdown() != n.Markdown() {
		t.Error("Markdown is not deterministic")
	}

	bare := Notes{Version: Version{1, 0, 0}, Items: []Item{{Issue: 1, Title: "Drop v1", Kind: Breaking}}}
	wantBare := "## 1.0.0\n\n### Breaking changes\n\n- Drop v1 (#1)\n"
	if got := bare.Markdown(); got != wantBare {
		t.Errorf("Markdown (bare):\n%q\nwant\n%q", got, wantBare)
	}

	long := Notes{Version: Version{1, 0, 0}, Summary: strings.Repeat("é", 3000)}
	s := strings.TrimSuffix(strings.TrimPrefix(long.Markdown(), "## 1.0.0\n\n"), "\n")
	if r := []rune(s); len(r) != MaxSummary || r[len(r)-1] != '…' {
		t.Errorf("summary of 3000 runes rendered as %d runes ending %q", len(r), r[len(r)-1])
	}
}

const section = "## v0.2.0 (2026-12-08)\n\n### Fixes\n\n- A fix (#3)\n"

func TestUpdateChangelog(t *testing.T) {
	v := Version{0, 2, 0}
	cases := []struct{ name, old, want string }{
		{"empty", "", "# Changelog\n\n" + section},
		{"blank", "\n\n", "# Changelog\n\n" + section},
		{"title intro entries",
			"# Changelog\n\nAll notable changes.\n\nSee the docs.\n\n## v0.1.0 (2026-11-01)\n\n- First (#1)\n",
			"# Changelog\n\nAll notable changes.\n\nSee the docs.\n\n" + section + "\n## v0.1.0 (2026-11-01)\n\n- First (#1)\n"},
		{"other title, no intro",
			"# CHANGELOG\n## 0.1.0\n- First\n",
			"# CHANGELOG\n\n" + section + "\n## 0.1.0\n- First\n"},
		{"title only, no newline",
			"# Changes",
			"# Changes\n\n" + section},
		{"no title",
			"## v0.1.0\n\n- First (#1)\n",
			section + "\n## v0.1.0\n\n- First (#1)\n"},
		{"retry replaces",
			"# Changelog\n\n" + "## v0.2.0 (2026-12-01)\n\n- Old text\n\n## v0.1.0\n\n- First\n",
			"# Changelog\n\n" + section + "\n## v0.1.0\n\n- First\n"},
		{"retry replaces keep-a-changelog heading, last entry",
			"# Changelog\n\n## [0.2.0] - 2026-12-01\n- Old\n",
			"# Changelog\n\n" + section},
		{"other versions are not this one",
			"# Changelog\n\n## 10.2.0\n\n## 0.2.0-rc.1\n\n## 0.2.0.1\n",
			"# Changelog\n\n" + section + "\n## 10.2.0\n\n## 0.2.0-rc.1\n\n## 0.2.0.1\n"},
		{"unreleased stays on top",
			"# Changelog\n\n## [Unreleased]\n\n- Soon\n\n## [0.1.0] - 2026-11-01\n\n- First\n\n[unreleased]: https://x/compare\n",
			"# Changelog\n\n## [Unreleased]\n\n- Soon\n\n" + section + "\n## [0.1.0] - 2026-11-01\n\n- First\n\n[unreleased]: https://x/compare\n"},
		{"headings in code fences are not entries",
			"# Changelog\n\nExample:\n\n```md\n## v0.2.0\n```\n\n## v0.1.0\n- First\n",
			"# Changelog\n\nExample:\n\n```md\n## v0.2.0\n```\n\n" + section + "\n## v0.1.0\n- First\n"},
		{"bytes after kept",
			"# Changelog\n\n## v0.1.0\n\n- First  \n\n\n  odd   spacing\t\n<!-- end -->",
			"# Changelog\n\n" + section + "\n## v0.1.0\n\n- First  \n\n\n  odd   spacing\t\n<!-- end -->\n"},
		{"CRLF",
			"# Changelog\r\n\r\n## v0.1.0\r\n- First\r\n",
			"# Changelog\r\n\r\n" + strings.ReplaceAll(section, "\n", "\r\n") + "\r\n## v0.1.0\r\n- First\r\n"},
	}
	for _, c := range cases {
		got := UpdateChangelog(c.old, section, v, "v")
		if got != c.want {
			t.Errorf("%s:\n%q\nwant\n%q", c.name, got, c.want)
		}
		if again := UpdateChangelog(got, section, v, "v"); again != got {
			t.Errorf("%s: a retry changed the file:\n%q\nthen\n%q", c.name, got, again)
		}
	}
}

func TestParseAnswer(t *testing.T) {
	good := "Notes written.\n\n```json\n" +
		`{"version": " 0.2.0 ", "summary": " Dark mode. ", "kinds": {"12": "feature", "#13": "Fix", "14": "other"}}` +
		"\n```\n"
	a, err := ParseAnswer(good)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != "0.2.0" || a.Summary != "Dark mode." || len(a.Kinds) != 3 ||
		a.Kinds[12] != Feature || a.Kinds[13] != Fix || a.Kinds[14] != Other {
		t.Errorf("ParseAnswer = %+v", a)
	}
	if a, err := ParseAnswer("```json\n{\"version\": \"1.0.0\"}\n```"); err != nil || a.Version != "1.0.0" || a.Kinds != nil {
		t.Errorf("no kinds: %+v, %v", a, err)
	}
	if a, err := ParseAnswer("```json\n{\"version\": \"soon\"}\n```"); err != nil || a.Version != "soon" {
		t.Errorf("an unparsable version is Check's to correct: %+v, %v", a, err)
	}
	bad := []struct{ text, wantErr string }{
		{"no block at all", "no ```json fenced block"},
		{"```json\n{\"version\": \"0.2.0\", \"bump\": \"minor\"}\n```", `unknown field "bump"`},
		{"```json\n{\"version\": 0.2}\n```", "version"},
		{"```json\n{\"version\": \"0.2.0\", \"kinds\": [\"feature\"]}\n```", "kinds"},
		{"```json\n{\"version\": \"0.2.0\", \"kinds\": {\"12\": 3}}\n```", "kinds"},
		{"```json\n{\"version\": \"0.2.0\", \"kinds\": {\"twelve\": \"fix\"}}\n```", `kinds: key "twelve" is not an issue number`},
		{"```json\n{\"version\": \"0.2.0\", \"kinds\": {\"0\": \"fix\"}}\n```", `key "0" is not an issue number`},
		{"```json\n{\"version\": \"0.2.0\", \"kinds\": {\"12\": \"improvement\"}}\n```", `kinds["12"]: "improvement" is not one of breaking, feature, fix, other`},
		{"```json\n{\"version\": \"0.2.0\", \"kinds\": {\"12\": \"fix\", \"#12\": \"fix\"}}\n```", "issue 12 is given twice"},
		{"```json\n{}\n```", "empty"},
	}
	for _, c := range bad {
		_, err := ParseAnswer(c.text)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("ParseAnswer(%q) error %v, want %q", c.text, err, c.wantErr)
		}
	}
}

func TestApply(t *testing.T) {
	a := Answer{Kinds: map[int64]Kind{1: Feature, 2: Breaking, 3: Fix, 5: "bogus", 6: Other}}
	items := []Item{
		{Issue: 1, Kind: Other},
		{Issue: 2, Kind: Fix},     // a label or title said fix: kept
		{Issue: 3, Kind: ""},      // no kind at all counts as other
		{Issue: 4, Kind: Other},   // the agent said nothing
		{Issue: 5, Kind: Other},   // an unknown kind is ignored
		{Issue: 6, Kind: Other},   // other stays other
		{Issue: 7, Kind: Feature}, // not in the answer
	}
	got := a.Apply(items)
	want := []Kind{Feature, Fix, Fix, Other, Other, Other, Feature}
	for i, it := range got {
		if it.Kind != want[i] {
			t.Errorf("item #%d: kind %q, want %q", it.Issue, it.Kind, want[i])
		}
	}
	if items[0].Kind != Other {
		t.Error("Apply changed its argument")
	}
}
