import { AllocationMark } from './allocation-mark.js';
import { ApiKey } from './api-key.js';
import { AuditEvent } from './audit-event.js';
import { DriftReport } from './drift-report.js';
import { IdempotencyRecord } from './idempotency-record.js';
import { Operation } from './operation.js';
import { PortRule } from './port-rule.js';
import { RateLimitBucket } from './rate-limit-bucket.js';
import { RollbackEvent } from './rollback-event.js';
import { RouterState } from './router-state.js';
import { Snapshot } from './snapshot.js';
import { Vm } from './vm.js';

export { AllocationMark } from './allocation-mark.js';
export { ApiKey, Role, roleAllows } from './api-key.js';
export { AuditEvent, AuditOutcome, type AuditTransport } from './audit-event.js';
export { DriftReport } from './drift-report.js';
export { IdempotencyRecord } from './idempotency-record.js';
export { Operation, OperationState, FINISHED_STATES } from './operation.js';
export { PortRule, claimRange } from './port-rule.js';
export { RateLimitBucket } from './rate-limit-bucket.js';
export { Protocol, claims } from './protocol.js';
export { RollbackEvent, RollbackOutcome, RollbackStage, RouterCommandType } from './rollback-event.js';
export { RouterState } from './router-state.js';
export { Snapshot } from './snapshot.js';
export { Vm } from './vm.js';

export const entities = [Vm, PortRule, RollbackEvent, ApiKey, Operation, Snapshot, RouterState, DriftReport, RateLimitBucket, AllocationMark, IdempotencyRecord, AuditEvent];
