package task

import "strings"

// The agent recognises a logging command anywhere in a line, so text from outside (a work item
// title, a file name, an API message) must never carry a live "##vso[" and never span two lines.
// The agent reverses only these escapes (Agent.Worker Command.cs): %AZP25, %0D, %0A in data and
// additionally %3B, %5D in property values. Escaping "%" first keeps the mapping reversible.

// EscapeData escapes text that follows the "]" of a logging command.
func EscapeData(s string) string {
	return escape(Neutralize(s), false)
}

// EscapeProperty escapes a property value inside "[...]".
func EscapeProperty(s string) string {
	return escape(Neutralize(s), true)
}

// UnescapeData reverses EscapeData's percent escapes the way the agent does (used by tests and by
// the log reader that serves callbacks).
func UnescapeData(s string) string {
	return unescape(s, false)
}

// UnescapeProperty reverses EscapeProperty's percent escapes the way the agent does.
func UnescapeProperty(s string) string {
	return unescape(s, true)
}

func escape(s string, property bool) string {
	if !strings.ContainsAny(s, "%\r\n;]") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			b.WriteString("%AZP25")
		case c == '\r':
			b.WriteString("%0D")
		case c == '\n':
			b.WriteString("%0A")
		case property && c == ';':
			b.WriteString("%3B")
		case property && c == ']':
			b.WriteString("%5D")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func unescape(s string, property bool) string {
	r := []string{"%0D", "\r", "%0A", "\n"}
	if property {
		r = append(r, "%3B", ";", "%5D", "]")
	}
	s = strings.NewReplacer(r...).Replace(s)
	return strings.ReplaceAll(s, "%AZP25", "%")
}

// Neutralize defuses logging-command and formatting prefixes inside untrusted text so that it
// shows as written but can never be taken for a command: "##vso[" becomes "##vso%5B" and "##["
// becomes "##%5B" (ASCII, visible, and never unescaped by the agent outside property values).
// The agent matches "##vso[" case-sensitively; we defuse any case to be safe.
func Neutralize(s string) string {
	if !strings.Contains(s, "##") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		if s[i] == '#' && i+1 < len(s) && s[i+1] == '#' {
			rest := s[i+2:]
			if len(rest) >= 4 && strings.EqualFold(rest[:3], "vso") && rest[3] == '[' {
				b.WriteString("##")
				b.WriteString(rest[:3])
				b.WriteString("%5B")
				i += 6
				continue
			}
			if len(rest) >= 1 && rest[0] == '[' {
				b.WriteString("##%5B")
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// OneLine makes untrusted text safe for a plain log line: neutralized, with CR and LF shown as
// visible escapes so the text cannot start a new line of its own.
func OneLine(s string) string {
	s = Neutralize(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", "⏎", "\r", "⏎", "\n", "⏎").Replace(s)
}
