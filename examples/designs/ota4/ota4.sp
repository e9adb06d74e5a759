// ota4: two-stage fully differential OTA without compensation, with CMFB (like OTA4 of the
// paper's Table I; its metric is CMRR). 1.2 V supply, 40-65 nm core devices.
//   stage 1: PMOS low-Vt input pair M1/M2, cascoded PMOS tail M0/M19 (high tail impedance
//            for CMRR; the tail node capacitance then limits CMRR at high frequency); NMOS diode loads M3/M4 in parallel
//            with the cross-coupled NMOS pair M5/M6 (gain boost by partial positive feedback)
//   stage 2: NMOS common source M7/M8 (mirrors of the diode loads), PMOS loads M9/M10 driven
//            by the CMFB; no compensation (the load capacitance sets the dominant pole)
//   CMFB: output CM sensed by RS1/RS2 || CS1/CS2, NMOS pair M11/M12 against VCM, diode loads
//         M13/M14, tail M15
//   bias: IBIAS into the diode M16; M17/M18 -> vbp for the PMOS tail, M20/M21 -> vbpc (cascode),
//         M22/M23 -> vbn for the CMFB tail
subckt ota4 INP INM OUTP OUTM VCM IBIAS VDD VSS
M0 (tailc vbp VDD VDD) pch l=1u w=24u m=2 nf=12
M19 (tail vbpc tailc VDD) pch l=0.5u w=24u m=2 nf=12
M1 (o1m INP tail VDD) pch_lvt l=0.5u w=32u m=1 nf=16
M2 (o1p INM tail VDD) pch_lvt l=0.5u w=32u m=1 nf=16
M3 (o1m o1m VSS VSS) nch l=0.5u w=8u m=1 nf=4
M4 (o1p o1p VSS VSS) nch l=0.5u w=8u m=1 nf=4
M5 (o1m o1p VSS VSS) nch l=0.5u w=6u m=1 nf=3
M6 (o1p o1m VSS VSS) nch l=0.5u w=6u m=1 nf=3
M7 (OUTP o1m VSS VSS) nch l=0.5u w=16u m=2 nf=8
M8 (OUTM o1p VSS VSS) nch l=0.5u w=16u m=2 nf=8
M9 (OUTP vcmfb VDD VDD) pch l=0.5u w=20u m=1 nf=10
M10 (OUTM vcmfb VDD VDD) pch l=0.5u w=20u m=1 nf=10
RS1 (OUTP vcms) poly_res l=11u w=0.4u segments=12
RS2 (OUTM vcms) poly_res l=11u w=0.4u segments=12
CS1 (OUTP vcms) cfmom_2t nr=25 lr=20u w=70n s=70n stm=3 spm=6 multi=1
CS2 (OUTM vcms) cfmom_2t nr=25 lr=20u w=70n s=70n stm=3 spm=6 multi=1
M11 (vcmfb VCM ctail VSS) nch l=0.5u w=8u m=1 nf=4
M12 (cmx vcms ctail VSS) nch l=0.5u w=8u m=1 nf=4
M13 (vcmfb vcmfb VDD VDD) pch l=0.5u w=4u m=1 nf=2
M14 (cmx cmx VDD VDD) pch l=0.5u w=4u m=1 nf=2
M15 (ctail vbn VSS VSS) nch l=1u w=16u m=1 nf=8
M16 (IBIAS IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
M17 (vbp IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
M18 (vbp vbp VDD VDD) pch l=1u w=12u m=1 nf=6
M20 (vbpc IBIAS VSS VSS) nch l=1u w=8u m=1 nf=4
M21 (vbpc vbpc VDD VDD) pch l=1u w=2u m=1 nf=1
M22 (vbn vbp VDD VDD) pch l=1u w=12u m=1 nf=6
M23 (vbn vbn VSS VSS) nch l=1u w=8u m=1 nf=4
ends ota4
