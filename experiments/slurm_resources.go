package experiments

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// SlurmResources is what a job asks of the cluster. Zero fields are not
// passed to sbatch, so the cluster's defaults apply.
type SlurmResources struct {
	Partition string   `json:"partition,omitempty" yaml:"partition"`
	Account   string   `json:"account,omitempty" yaml:"account"`
	Time      string   `json:"time,omitempty" yaml:"time"` // Slurm's format: "90", "1:30:00", "2-00:00:00"
	CPUs      int      `json:"cpus,omitempty" yaml:"cpus"` // --cpus-per-task
	Mem       string   `json:"mem,omitempty" yaml:"mem"`   // "16G", "4096M", "500" (MB)
	Gres      string   `json:"gres,omitempty" yaml:"gres"` // "gpu:1", "gpu:a100:2"
	Options   []string `json:"options,omitempty" yaml:"options"`
}

// Merge returns r with o's set fields in place of r's; o's options follow
// r's (sbatch takes the last of a repeated option).
func (r SlurmResources) Merge(o *SlurmResources) SlurmResources {
	if o == nil {
		return r
	}
	out := r
	out.Options = append(append([]string{}, r.Options...), o.Options...)
	for _, f := range []struct {
		dst *string
		v   string
	}{{&out.Partition, o.Partition}, {&out.Account, o.Account},
		{&out.Time, o.Time}, {&out.Mem, o.Mem}, {&out.Gres, o.Gres}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if o.CPUs != 0 {
		out.CPUs = o.CPUs
	}
	return out
}

var (
	slurmNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(,[A-Za-z0-9][A-Za-z0-9._-]*)*$`)
	slurmTimeRE = regexp.MustCompile(`^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}|UNLIMITED|INFINITE)$`)
	slurmMemRE  = regexp.MustCompile(`^[1-9]\d*[KMGT]?$`)
	slurmGresRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(:[A-Za-z0-9_.-]+)*(,[A-Za-z][A-Za-z0-9_]*(:[A-Za-z0-9_.-]+)*)*$`)
)

// reservedSbatchOptions are set by the executor itself; an extra option
// overriding them would break how jobs are named, logged or watched.
var reservedSbatchOptions = map[string]string{
	"--parsable": "", "--wrap": "", "--job-name": "", "-J": "", "--output": "", "-o": "",
	"--error": "", "-e": "", "--array": "", "-a": "", "--requeue": "", "--no-requeue": "",
	"--hold": "", "-H": "", "--test-only": "", "--wait": "", "-W": "", "--export": "",
}

// Validate checks every field; name turns a field ("time") into what the
// user wrote ("--slurm-time", "slurm.time") for the message.
func (r SlurmResources) Validate(name func(field string) string) error {
	var errs []error
	bad := func(field, value, want string) {
		errs = append(errs, fmt.Errorf("%s %q: %s", name(field), value, want))
	}
	if r.Partition != "" && !slurmNameRE.MatchString(r.Partition) {
		bad("partition", r.Partition, "want a partition name (letters, digits, '.', '_', '-'; a comma-separated list for several)")
	}
	if r.Account != "" && !slurmNameRE.MatchString(r.Account) {
		bad("account", r.Account, "want an account name (letters, digits, '.', '_', '-')")
	}
	if r.Time != "" && !slurmTimeRE.MatchString(r.Time) {
		bad("time", r.Time, "want minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS")
	}
	if r.CPUs < 0 || r.CPUs > 4096 {
		bad("cpus", strconv.Itoa(r.CPUs), "want 1 to 4096 (0 = the cluster's default)")
	}
	if r.Mem != "" && !slurmMemRE.MatchString(r.Mem) {
		bad("mem", r.Mem, "want a size in megabytes or with a K, M, G or T suffix (16G)")
	}
	if r.Gres != "" && !slurmGresRE.MatchString(r.Gres) {
		bad("gres", r.Gres, "want NAME[:TYPE]:COUNT, comma-separated (gpu:1, gpu:a100:2)")
	}
	for _, o := range r.Options {
		key, _, _ := strings.Cut(o, "=")
		switch {
		case !strings.HasPrefix(o, "-") || len(o) < 2:
			bad("options", o, "each extra sbatch option must start with '-' and hold its value after '=' (--qos=high)")
		case strings.ContainsAny(o, "\n\r\x00"):
			bad("options", o, "an option must not hold a line break or NUL")
		default:
			if _, reserved := reservedSbatchOptions[key]; reserved {
				bad("options", o, "xraylab sets "+key+" itself")
			}
		}
	}
	return errors.Join(errs...)
}

// SbatchArgs are the sbatch options for r.
func (r SlurmResources) SbatchArgs() []string {
	var a []string
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag+"="+v)
		}
	}
	add("--partition", r.Partition)
	add("--account", r.Account)
	add("--time", r.Time)
	if r.CPUs > 0 {
		add("--cpus-per-task", strconv.Itoa(r.CPUs))
	}
	add("--mem", r.Mem)
	add("--gres", r.Gres)
	return append(a, r.Options...)
}
