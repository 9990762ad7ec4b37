/** Methods that change something: they carry bodies, and need CSRF defence with a cookie. */
export const UNSAFE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
