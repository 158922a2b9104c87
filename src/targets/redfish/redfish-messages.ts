/**
 * The DMTF message registry entries fwup speaks (Base and Update), shared by the client target, which
 * maps them to results and error codes, and the emulated BMC, which reports them. Message ids are
 * compared without their registry version ("Update.1.0.2.ApplyFailed" is ApplyFailed): BMCs differ in
 * the registry version they ship.
 */
export const BASE_REGISTRY = 'Base.1.16';
export const UPDATE_REGISTRY = 'Update.1.0';

export type Severity = 'OK' | 'Warning' | 'Critical';

export interface RedfishMessage {
  '@odata.type'?: string;
  MessageId: string;
  Message: string;
  MessageArgs?: string[];
  MessageSeverity?: Severity;
  Severity?: Severity;
  Resolution?: string;
}

interface Entry {
  registry: string;
  text: (args: string[]) => string;
  severity: Severity;
  resolution: string;
}

const q = (s: string | undefined) => `'${s ?? ''}'`;

const ENTRIES = {
  // Update registry
  TargetDetermined: { registry: UPDATE_REGISTRY, text: (a) => `The target device ${q(a[0])} will be updated with image ${q(a[1])}.`, severity: 'OK', resolution: 'None.' },
  TransferringToComponent: { registry: UPDATE_REGISTRY, text: (a) => `Image ${q(a[0])} is being transferred to ${q(a[1])}.`, severity: 'OK', resolution: 'None.' },
  VerifyingAtComponent: { registry: UPDATE_REGISTRY, text: (a) => `Image ${q(a[0])} is being verified at ${q(a[1])}.`, severity: 'OK', resolution: 'None.' },
  ApplyingOnComponent: { registry: UPDATE_REGISTRY, text: (a) => `Image ${q(a[0])} is being applied on ${q(a[1])}.`, severity: 'OK', resolution: 'None.' },
  AwaitToActivate: { registry: UPDATE_REGISTRY, text: (a) => `Awaiting for an action to proceed with activating image ${q(a[0])} on ${q(a[1])}.`, severity: 'OK', resolution: 'Perform the requested action to advance the update operation.' },
  UpdateSuccessful: { registry: UPDATE_REGISTRY, text: (a) => `Device ${q(a[0])} successfully updated with image ${q(a[1])}.`, severity: 'OK', resolution: 'None.' },
  TransferFailed: { registry: UPDATE_REGISTRY, text: (a) => `Transfer of image ${q(a[0])} to ${q(a[1])} failed.`, severity: 'Critical', resolution: 'None.' },
  VerificationFailed: { registry: UPDATE_REGISTRY, text: (a) => `Verification of image ${q(a[0])} at ${q(a[1])} failed.`, severity: 'Critical', resolution: 'None.' },
  ApplyFailed: { registry: UPDATE_REGISTRY, text: (a) => `Installation of image ${q(a[0])} to ${q(a[1])} failed.`, severity: 'Critical', resolution: 'None.' },
  ActivateFailed: { registry: UPDATE_REGISTRY, text: (a) => `Activation of image ${q(a[0])} on ${q(a[1])} failed.`, severity: 'Critical', resolution: 'None.' },
  // Update 1.1 names a skipped update (the same version is installed); older BMCs say it in words.
  UpdateSkipped: { registry: 'Update.1.1', text: (a) => `The update of ${q(a[0])} with image ${q(a[1])} was skipped: ${a[2] ?? ''}`, severity: 'OK', resolution: 'None.' },
  // Base registry
  ResetRequired: { registry: BASE_REGISTRY, text: (a) => `In order to apply changes, recovery must be achieved by resetting ${q(a[0])} with reset type ${q(a[1])}.`, severity: 'Warning', resolution: 'Perform the requested reset.' },
  Success: { registry: BASE_REGISTRY, text: () => 'The request completed successfully.', severity: 'OK', resolution: 'None.' },
  Created: { registry: BASE_REGISTRY, text: () => 'The resource was created successfully.', severity: 'OK', resolution: 'None.' },
  TaskStarted: { registry: 'TaskEvent.1.0', text: (a) => `The task with Id ${q(a[0])} has started.`, severity: 'OK', resolution: 'None.' },
  GeneralError: { registry: BASE_REGISTRY, text: (a) => a[0] ?? 'A general error has occurred.', severity: 'Critical', resolution: 'None.' },
  MalformedJSON: { registry: BASE_REGISTRY, text: () => 'The request body submitted was malformed JSON and could not be parsed by the receiving service.', severity: 'Critical', resolution: 'Ensure that the request body is valid JSON and resubmit the request.' },
  PropertyValueNotInList: { registry: BASE_REGISTRY, text: (a) => `The value ${q(a[0])} for the property ${a[1] ?? ''} is not in the list of acceptable values.`, severity: 'Warning', resolution: 'Choose a value from the enumeration list that the implementation can support and resubmit the request.' },
  PropertyMissing: { registry: BASE_REGISTRY, text: (a) => `The property ${a[0] ?? ''} is a required property and must be included in the request.`, severity: 'Warning', resolution: 'Ensure that the property is in the request body and has a valid value and resubmit the request.' },
  ActionParameterMissing: { registry: BASE_REGISTRY, text: (a) => `The action ${a[0] ?? ''} requires the parameter ${a[1] ?? ''} to be present in the request body.`, severity: 'Critical', resolution: 'Supply the action with the required parameter in the request body when the request is resubmitted.' },
  ActionParameterValueNotInList: { registry: BASE_REGISTRY, text: (a) => `The value ${q(a[0])} for the parameter ${a[1] ?? ''} in the action ${a[2] ?? ''} is not in the list of acceptable values.`, severity: 'Warning', resolution: 'Choose a value from the enumeration list that the implementation can support and resubmit the request.' },
  ResourceNotFound: { registry: BASE_REGISTRY, text: (a) => `The requested resource of type ${a[0] ?? ''} named ${q(a[1])} was not found.`, severity: 'Critical', resolution: 'Provide a valid resource identifier and resubmit the request.' },
  OperationNotAllowed: { registry: BASE_REGISTRY, text: () => 'The HTTP method is not allowed on this resource.', severity: 'Critical', resolution: 'None.' },
  PayloadTooLarge: { registry: BASE_REGISTRY, text: () => 'The supplied payload exceeds the maximum size supported by the service.', severity: 'Critical', resolution: 'Correct the request body and resubmit the request if it failed.' },
  ServiceTemporarilyUnavailable: { registry: BASE_REGISTRY, text: (a) => `The service is temporarily unavailable.  Retry in ${a[0] ?? '?'} seconds.`, severity: 'Critical', resolution: 'Wait for the indicated retry duration and retry the operation.' },
  InsufficientPrivilege: { registry: BASE_REGISTRY, text: () => 'There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.', severity: 'Critical', resolution: 'Either abandon the operation or change the associated access rights and resubmit the request if the operation failed.' },
  NoValidSession: { registry: BASE_REGISTRY, text: () => 'There is no valid session established with the implementation.', severity: 'Critical', resolution: 'Establish a session before attempting any operations.' },
  UnsupportedMediaType: { registry: BASE_REGISTRY, text: () => 'The content type of the request body is not supported.', severity: 'Critical', resolution: 'Resubmit the request with a supported content type.' },
} satisfies Record<string, Entry>;

export type MessageKey = keyof typeof ENTRIES;

export function message(key: MessageKey, args: string[] = []): RedfishMessage {
  const e: Entry = ENTRIES[key];
  return {
    '@odata.type': '#Message.v1_1_2.Message',
    MessageId: `${e.registry}.${key}`,
    Message: e.text(args),
    ...(args.length ? { MessageArgs: args } : {}),
    MessageSeverity: e.severity,
    Severity: e.severity,
    Resolution: e.resolution,
  };
}

/** "Update.1.0.2.ApplyFailed" → { registry: "Update", key: "ApplyFailed" }; null for a malformed id. */
export function messageKey(id: unknown): { registry: string; key: string } | null {
  if (typeof id !== 'string') return null;
  const m = /^([A-Za-z][\w]*)\.\d+\.\d+(?:\.\d+)?\.(\w+)$/.exec(id);
  return m ? { registry: m[1]!, key: m[2]! } : null;
}

/** A Redfish error body: the `error` object every failed request should carry. */
export function errorBody(key: MessageKey, args: string[] = [], extra: RedfishMessage[] = []): object {
  const first = message(key, args);
  return { error: { code: first.MessageId, message: first.Message, '@Message.ExtendedInfo': [first, ...extra] } };
}
