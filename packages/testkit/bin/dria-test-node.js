#!/usr/bin/env node
import '../dist/bin/test-node.js'
