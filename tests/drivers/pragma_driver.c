/* tests/drivers/pragma_driver.c — sections named as WDK drivers name them:
 * #pragma alloc_text for INIT and PAGE code, #pragma data_seg for PAGEDATA.
 * Built with clang 19 or later in Microsoft-extensions mode
 * (-fms-extensions), where these pragmas place code and data in named ELF
 * sections; tests/test_driverimage.c loads it when that compiler is there. */
int PragmaDriverEntry(int x);
int PragmaPaged(int x);
int PragmaResident(int x);

#pragma alloc_text(INIT, PragmaDriverEntry)
#pragma alloc_text(PAGE, PragmaPaged)

#pragma data_seg("PAGEDATA")
int PragmaPagedData = 3;
#pragma data_seg()

int PragmaDriverEntry(int x) { return x + PragmaPagedData; }

int PragmaPaged(int x) { return x * PragmaPagedData; }

int PragmaResident(int x) { return x - PragmaPagedData; }
