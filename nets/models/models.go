// Package models links every model into a binary: importing it for its
// side effects registers each model package with the nets registry, so a
// consumer that builds models by name (nets.New, nets.Lookup, LoadModel)
// imports _ "xraylab/nets/models" once.
package models

import (
	_ "xraylab/nets/alphagan"   // registers "alphagan"
	_ "xraylab/nets/bae"        // registers "bae"
	_ "xraylab/nets/bigan"      // registers "bigan"
	_ "xraylab/nets/cae"        // registers "cae"
	_ "xraylab/nets/dcgan"      // registers "dcgan"
	_ "xraylab/nets/pixelgauss" // registers "pixelgauss"
	_ "xraylab/nets/vae"        // registers "vae"
)
