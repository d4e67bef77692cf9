// Package report turns recorded experiments into what people read and
// keep: the comparison table in the layout of the paper's Table 1 (JSON,
// CSV, Markdown, LaTeX, figure), the plain-text runs table, ROC figures and
// the self-contained HTML report (cached per experiment), and the export of
// an experiment as a bundle with the comparison of a reproduction against
// it. It reads through the experiments.Store; it computes figures with eval.
package report
