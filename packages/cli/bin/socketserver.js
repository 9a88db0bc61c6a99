#!/usr/bin/env node
// A committed launcher, so package managers can link the `socketserver` bin at
// install time, before `dist/` is built. The command itself lives in dist/bin.js.
import '../dist/bin.js'
