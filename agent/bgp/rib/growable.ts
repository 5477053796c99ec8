// Typed arrays that grow in place, on resizable ArrayBuffers (ES2024; Node 20's V8 has them): the
// address space for the largest size is reserved up front and memory is committed as the array
// grows. Growing a plain typed array means allocating a bigger one and copying, and the old one
// stays garbage until the collector runs; for a full table that garbage was tens of megabytes of
// peak memory. Here nothing is copied and nothing is left behind.

type TypedArray = Int32Array | Uint32Array | Uint16Array | Uint8Array;
type TypedArrayKind<T extends TypedArray> = { new (buffer: ArrayBuffer): T; readonly BYTES_PER_ELEMENT: number };

interface ResizableBuffer extends ArrayBuffer {
  resize(byteLength: number): void;
  readonly maxByteLength: number;
}

// lib ES2023 does not describe the options argument yet.
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableBuffer;

/** A length-tracking typed array of `length` elements that can grow to `maxLength` in place. */
export function growable<T extends TypedArray>(Kind: TypedArrayKind<T>, length: number, maxLength: number): T {
  return new Kind(new ResizableArrayBuffer(length * Kind.BYTES_PER_ELEMENT, { maxByteLength: maxLength * Kind.BYTES_PER_ELEMENT }));
}

/** Grows (or shrinks) a growable array to `length` elements; new elements are zero. */
export function resize(array: TypedArray, length: number): void {
  const buffer = array.buffer as ResizableBuffer;
  const bytes = length * array.BYTES_PER_ELEMENT;
  if (bytes > buffer.maxByteLength) throw new Error(`table full: ${length} entries is more than the ${buffer.maxByteLength / array.BYTES_PER_ELEMENT} reserved`);
  buffer.resize(bytes);
}
