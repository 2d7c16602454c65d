#!/usr/bin/env node
// The `lzy-kube-sim` command; the code is compiled to dist/ by `npm run build`.
import '../dist/src/main.js';
