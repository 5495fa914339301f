export async function doctorCommand(_o: unknown): Promise<number> {
  return 0;
}
