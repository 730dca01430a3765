package task

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Result is the task result as the agent parses it (case-sensitively).
type Result int

// Task results, ordered so that the worst wins when merged, as the agent does.
const (
	Succeeded Result = iota
	SucceededWithIssues
	Failed
)

func (r Result) String() string {
	switch r {
	case Succeeded:
		return "Succeeded"
	case SucceededWithIssues:
		return "SucceededWithIssues"
	default:
		return "Failed"
	}
}

// IssueType is the type property of task.logissue.
type IssueType string

// Issue types the agent accepts.
const (
	IssueError   IssueType = "error"
	IssueWarning IssueType = "warning"
)

// Issue is one task.logissue command.
type Issue struct {
	Type       IssueType
	Message    string
	SourcePath string
	Line       int
	Column     int
	Code       string
}

// Log writes agent logging commands. It is safe for concurrent use; every write is one whole line.
type Log struct {
	mu    sync.Mutex
	w     io.Writer
	debug bool
	err   error
}

// NewLog returns a Log writing to w; debug lines are written only when debug is true
// (SYSTEM_DEBUG=true on the agent).
func NewLog(w io.Writer, debug bool) *Log {
	return &Log{w: w, debug: debug}
}

// Err returns the first write error, so callers can fail closed when the log is unwritable.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Log) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	// The agent decodes the log as UTF-8; untrusted bytes (a file name that is not UTF-8) are
	// replaced here the way it would, so every line is valid text for any reader of the log.
	s = strings.ToValidUTF8(s, "\uFFFD")
	if _, err := io.WriteString(l.w, s+"\n"); err != nil {
		l.err = fmt.Errorf("write pipeline log: %w", err)
	}
}

// Command writes ##vso[area.event k=v;...]data with every property value and the data escaped.
// Property names are ours, never untrusted, and are written in sorted order for stable output.
func (l *Log) Command(name string, props map[string]string, data string) {
	l.line(FormatCommand(name, props, data))
}

// FormatCommand renders one logging command line without a trailing newline.
func FormatCommand(name string, props map[string]string, data string) string {
	var b strings.Builder
	b.WriteString("##vso[")
	b.WriteString(name)
	keys := make([]string, 0, len(props))
	for k, v := range props {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(';')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(EscapeProperty(props[k]))
	}
	b.WriteByte(']')
	b.WriteString(EscapeData(data))
	return b.String()
}

// SetSecret registers a value the agent must mask in all later output. Only for credentials the
// task itself holds (tokens); secrets found in scanned content are never emitted, not even here.
func (l *Log) SetSecret(value string) {
	if value == "" {
		return
	}
	l.Command("task.setsecret", nil, value)
}

// LogIssue writes task.logissue; the agent shows it in the run's issue list.
func (l *Log) LogIssue(is Issue) {
	props := map[string]string{"type": string(is.Type), "code": is.Code, "sourcepath": is.SourcePath}
	if is.Line > 0 {
		props["linenumber"] = strconv.Itoa(is.Line)
	}
	if is.Column > 0 {
		props["columnnumber"] = strconv.Itoa(is.Column)
	}
	l.Command("task.logissue", props, is.Message)
}

// SetVariable writes task.setvariable; output variables are readable by later jobs and stages.
func (l *Log) SetVariable(name, value string, isOutput, isSecret bool) {
	props := map[string]string{"variable": name}
	if isOutput {
		props["isOutput"] = "true"
	}
	if isSecret {
		props["issecret"] = "true"
	}
	l.Command("task.setvariable", props, value)
}

// UploadSummary attaches a Markdown file to the run's Extensions tab.
func (l *Log) UploadSummary(path string) {
	l.Command("task.uploadsummary", nil, path)
}

// Complete sets the task result.
func (l *Log) Complete(r Result, message string) {
	l.Command("task.complete", map[string]string{"result": r.String()}, message)
}

// Group opens a collapsible section.
func (l *Log) Group(title string) { l.line("##[group]" + OneLine(title)) }

// EndGroup closes the section opened by Group.
func (l *Log) EndGroup() { l.line("##[endgroup]") }

// Section writes a highlighted heading line.
func (l *Log) Section(title string) { l.line("##[section]" + OneLine(title)) }

// Warning writes a yellow line (it does not add an issue to the run).
func (l *Log) Warning(msg string) { l.line("##[warning]" + OneLine(msg)) }

// Error writes a red line (it does not add an issue to the run or fail the task).
func (l *Log) Error(msg string) { l.line("##[error]" + OneLine(msg)) }

// Debug writes a debug line only when debugging is on.
func (l *Log) Debug(msg string) {
	if l.debug {
		l.line("##[debug]" + OneLine(msg))
	}
}

// Info writes plain text; each line of msg becomes one neutralized log line.
func (l *Log) Info(msg string) {
	for _, s := range strings.Split(strings.ReplaceAll(msg, "\r\n", "\n"), "\n") {
		l.line(OneLine(s))
	}
}
