package task

import "strings"

// Command is one logging command as the agent reads it.
type Command struct {
	Name  string
	Props map[string]string
	Data  string
}

// ParseCommand reads a line the way the agent does: the first "##vso[" starts the command, the
// first "]" after it ends the command part, properties split on ";" then on the first "=", and
// values and data are unescaped. Tests use it to see exactly what the agent would see.
func ParseCommand(line string) (Command, bool) {
	i := strings.Index(line, "##vso[")
	if i < 0 {
		return Command{}, false
	}
	rest := line[i+len("##vso["):]
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return Command{}, false
	}
	name, propText, _ := strings.Cut(rest[:end], " ")
	c := Command{Name: name, Props: map[string]string{}, Data: UnescapeData(rest[end+1:])}
	for _, p := range strings.Split(propText, ";") {
		if k, v, ok := strings.Cut(p, "="); ok {
			c.Props[k] = UnescapeProperty(v)
		}
	}
	return c, true
}

// ParseLog returns the logging commands of a task's output, in order.
func ParseLog(out string) []Command {
	var cmds []Command
	for _, line := range strings.Split(out, "\n") {
		if c, ok := ParseCommand(strings.TrimSuffix(line, "\r")); ok {
			cmds = append(cmds, c)
		}
	}
	return cmds
}
