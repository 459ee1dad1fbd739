package finding

import "testing"

func TestViolationsAndInfosSplitBySeverity(t *testing.T) {
	fs := []Finding{
		{Check: "a", Severity: Violation, Message: "broken"},
		{Check: "b", Severity: Info, Object: "Role/x", Message: "excess"},
		{Check: "c", Severity: Violation, Object: "Pod/y", Message: "down"},
	}
	if v := Violations(fs); len(v) != 2 || v[0].Check != "a" || v[1].Check != "c" {
		t.Errorf("Violations = %v, want a and c", v)
	}
	if i := Infos(fs); len(i) != 1 || i[0].Check != "b" {
		t.Errorf("Infos = %v, want b", i)
	}
	if got, want := Lines(fs[1:]), "[info] b: Role/x: excess\n[violation] c: Pod/y: down\n"; got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}
