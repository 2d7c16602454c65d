export { parseKeys, type S3Key } from './keys.js';
export { randomKey, startS3TestServer, type S3TestServer, type S3TestServerOptions } from './s3-test-server.js';
export { SigV4Verifier, type ReceivedRequest, type Verdict } from './sigv4-verifier.js';
