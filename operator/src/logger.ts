/** The operator logs like the sidecar: JSON lines on stderr (one implementation, shared). */
export { createLogger, type Level, type Logger, silentLogger } from '@gco/git-sidecar/logger';
