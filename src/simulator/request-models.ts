// The request bodies each endpoint accepts, checked the way pydantic checks them (vyos-api.md §1 "Strict
// types"): StrictStr paths and values, extra fields ignored, and the first error reported as
// `str(exc.errors()[0])`. The wording differs between pydantic v1 and v2; which one a profile prints is its
// `pydantic` field (profiles.ts; research §7.10 on the versions VyOS really ships).

import { pyRepr } from './python-text';

export type PydanticFlavour = 'v1' | 'v2';

export type Loc = (string | number)[];
type ErrorKind = 'missing' | 'string_type' | 'int_type' | 'list_type' | 'dict_type' | 'too_short' | 'extra_forbidden' | 'bool_parsing';

export class BodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BodyError';
  }
}

const V1: Record<ErrorKind, [string, string]> = {
  missing: ['field required', 'value_error.missing'],
  string_type: ['str type expected', 'type_error.str'],
  int_type: ['value is not a valid integer', 'type_error.integer'],
  list_type: ['value is not a valid list', 'type_error.list'],
  dict_type: ['value is not a valid dict', 'type_error.dict'],
  too_short: ['ensure this value has at least 1 items', 'value_error.list.min_items'],
  extra_forbidden: ['extra fields not permitted', 'value_error.extra'],
  bool_parsing: ['value could not be parsed to a boolean', 'type_error.bool'],
};

const V2: Record<ErrorKind, string> = {
  missing: 'Field required',
  string_type: 'Input should be a valid string',
  // StrictInt: a string is `int_type` (research §1 [TEST]), not the lax `int_parsing`.
  int_type: 'Input should be a valid integer',
  list_type: 'Input should be a valid list',
  dict_type: 'Input should be a valid dictionary',
  too_short: 'List should have at least 1 item after validation, not 0',
  extra_forbidden: 'Extra inputs are not permitted',
  bool_parsing: 'Input should be a valid boolean, unable to interpret input',
};

/** The text of one pydantic error, as `str()` of its dict prints it. */
export function pydanticError(flavour: PydanticFlavour, kind: ErrorKind, loc: Loc, input: unknown): string {
  if (flavour === 'v1') {
    const [msg, type] = V1[kind];
    const ctx = kind === 'too_short' ? ", 'ctx': {'limit_value': 1}" : '';
    return `{'loc': ${pyRepr(loc, true)}, 'msg': ${pyRepr(msg)}, 'type': ${pyRepr(type)}${ctx}}`;
  }
  const ctx = kind === 'too_short' ? ", 'ctx': {'field_type': 'List', 'min_length': 1, 'actual_length': 0}" : '';
  return `{'type': ${pyRepr(kind)}, 'loc': ${pyRepr(loc, true)}, 'msg': ${pyRepr(V2[kind])}, 'input': ${pyRepr(input)}${ctx}}`;
}

type Obj = Record<string, unknown>;

/** Field readers bound to one pydantic flavour; each throws BodyError on the first violation. */
export class FieldReader {
  constructor(readonly flavour: PydanticFlavour) {}

  fail(kind: ErrorKind, loc: Loc, input: unknown): never {
    throw new BodyError(pydanticError(this.flavour, kind, loc, input));
  }

  object(value: unknown, loc: Loc): Obj {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail('dict_type', loc, value);
    return value as Obj;
  }

  str(obj: Obj, field: string, loc: Loc): string {
    if (!(field in obj)) this.fail('missing', [...loc, field], obj);
    return this.strValue(obj[field], [...loc, field]);
  }

  optStr(obj: Obj, field: string, loc: Loc): string | undefined {
    return obj[field] === undefined || obj[field] === null ? undefined : this.strValue(obj[field], [...loc, field]);
  }

  strValue(value: unknown, loc: Loc): string {
    if (typeof value !== 'string') this.fail('string_type', loc, value);
    return value;
  }

  strList(obj: Obj, field: string, loc: Loc, nonEmpty = false): string[] {
    if (!(field in obj)) this.fail('missing', [...loc, field], obj);
    const value = obj[field];
    if (!Array.isArray(value)) this.fail('list_type', [...loc, field], value);
    if (nonEmpty && value.length === 0) this.fail('too_short', [...loc, field], value);
    return value.map((v, i) => this.strValue(v, [...loc, field, i]));
  }

  /**
   * `confirm_time: StrictInt = 0` (models.py M-post, research §1): only a JSON integer; a string, a float,
   * a bool or null is `int_type`. Absent is the default.
   */
  optStrictInt(obj: Obj, field: string, loc: Loc): number | undefined {
    if (!(field in obj)) return undefined;
    const value = obj[field];
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    this.fail('int_type', [...loc, field], value);
  }

  /** Whether optStrictInt would accept the field (for union fall-through, research §1). */
  isStrictIntOrAbsent(obj: Obj, field: string): boolean {
    return !(field in obj) || (typeof obj[field] === 'number' && Number.isInteger(obj[field]));
  }
}
