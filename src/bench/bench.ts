export function benchCommand(_args: string[]): number { return 0; }
