export { alive, tempDir, waitUntil } from '@lzy/actors/testing';
