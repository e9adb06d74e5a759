// tiny: a five-transistor OTA with a load capacitor (test fixture, hand-written)
simulator lang=spectre
* a star comment line
subckt tiny INP INM OUT VBIAS VDD VSS
M0 (x INP tail VSS) nch_lvt l=120.0n w=6u m=1 nf=2
M1 (OUT INM tail VSS) nch_lvt l=120n w=6u m=1 nf=2  // the other half of the pair
M2 (x x VDD VDD) pch l=0.2u w=4u m=1
M3 (OUT x VDD VDD) pch l=200n w=4u \
        m=1
M4 (tail VBIAS VSS VSS) nch_25ud18_mac l=1u w=10u
C0 (OUT VSS) cfmom_2t nr=20 lr=5u w=70n s=70n
ends tiny
