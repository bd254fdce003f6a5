/** HL7v2 over MLLP: framing and the durable-ACK listener. */
export { CR, FS, VT, MllpFrameParser, frame, type FrameEvent } from './framing.js';
export { startMllpListener, type MllpListener, type MllpListenerDeps } from './listener.js';
export { MllpClient, type MllpClientOptions } from './client.js';
