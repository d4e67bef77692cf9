package nets

// The checkpoint frame, for the external tests that build files by hand.
const (
	CkptMagic   = ckptMagic
	CkptVersion = ckptVersion
)
