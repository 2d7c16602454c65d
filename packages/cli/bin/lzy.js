#!/usr/bin/env node
// The `lzy` command; the code is compiled to dist/ by `npm run build`.
import '../dist/src/main.js';
