// SPDX-License-Identifier: MIT
/*
 * insnmark: execute the marker instruction the insncount QEMU plugin
 * reports instruction counts at (a NOP everywhere else).
 */
int main(void)
{
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x49, 0x43, 0x4e, 0x54" ::: "memory");
	return 0;
}
